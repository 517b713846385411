/**
 * Faults the extension must survive, driven through the same ModelClient and worker the extension uses:
 * broken model folders (and recovery once fixed), CUDA asked for without its libraries, CUDA failing mid-run,
 * and an inference error injected into one request.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelClient } from '../../src/host/client';
import { loadModelFolder, ModelFolderError, RuntimeInfo } from '../../src/runtime';
import { FIXTURES, ROOT, modelDir, tempDir } from './helpers';

const WORKER = path.join(ROOT, 'out', 'worker.js');
const TEXT = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
const PREFIX = TEXT.slice(0, TEXT.indexOf('perimeter'));

/** A model folder of links to the real files, which a test may replace one by one. */
function linkedModel(): string {
  const src = modelDir();
  const dst = tempDir('faults');
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    if (fs.statSync(p).isFile()) fs.symlinkSync(p, path.join(dst, f));
  }
  return dst;
}

function replaceFile(dir: string, name: string, content: string | Buffer): void {
  fs.rmSync(path.join(dir, name));
  fs.writeFileSync(path.join(dir, name), content);
}

function restoreFile(dir: string, name: string): void {
  fs.rmSync(path.join(dir, name));
  fs.symlinkSync(path.join(modelDir(), name), path.join(dir, name));
}

async function loadError(dir: string): Promise<string> {
  const client = new ModelClient({ modelDir: dir, provider: 'cpu', workerPath: WORKER });
  try {
    await client.ready;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.dispose();
  }
  assert.fail(`the model in ${dir} loaded although it is broken`);
}

async function loadsAndCompletes(dir: string): Promise<void> {
  const client = new ModelClient({ modelDir: dir, provider: 'cpu', workerPath: WORKER });
  try {
    await client.ready;
    const c = await client.complete('file:///tmp/faults.ts', PREFIX, 4);
    assert.ok(c.tokens > 0, 'a completion after the fix');
  } finally {
    await client.dispose();
  }
}

describe('reliability: broken model folders, then fixed', () => {
  const cases: { what: string; spoil: (dir: string) => void; file: string; message: RegExp }[] = [
    {
      what: 'a truncated graph',
      file: 'body.onnx',
      spoil: (dir) => {
        const bytes = fs.readFileSync(path.join(modelDir(), 'body.onnx'));
        replaceFile(dir, 'body.onnx', bytes.subarray(0, bytes.length >> 1));
      },
      message: /could not load the graphs/,
    },
    {
      what: 'a corrupt graph',
      file: 'head.onnx',
      spoil: (dir) => replaceFile(dir, 'head.onnx', Buffer.alloc(8192, 0x5a)),
      message: /could not load the graphs/,
    },
    {
      what: 'a tokenizer of another model',
      file: 'tokenizer.json',
      spoil: (dir) => {
        const tok = JSON.parse(fs.readFileSync(path.join(modelDir(), 'tokenizer.json'), 'utf8'));
        tok.model.vocab['extra-token-of-a-bigger-vocabulary'] = 20000;
        replaceFile(dir, 'tokenizer.json', JSON.stringify(tok));
      },
      message: /belongs to another model/,
    },
    {
      what: 'a config of a newer format',
      file: 'config.json',
      spoil: (dir) => {
        const cfg = JSON.parse(fs.readFileSync(path.join(modelDir(), 'config.json'), 'utf8'));
        cfg.format_version = 99;
        replaceFile(dir, 'config.json', JSON.stringify(cfg));
      },
      message: /format_version 99 is not supported/,
    },
  ];
  for (const c of cases) {
    it(`names ${c.what} and loads once it is fixed`, async () => {
      const dir = linkedModel();
      c.spoil(dir);
      assert.match(await loadError(dir), c.message);
      restoreFile(dir, c.file);
      await loadsAndCompletes(dir);
    });
  }

  it('names a missing folder', async () => {
    assert.match(await loadError(path.join(tempDir('faults'), 'nowhere')), /does not exist/);
  });

  it('refuses a tokenizer without the bos token of the config', () => {
    const dir = linkedModel();
    const tok = JSON.parse(fs.readFileSync(path.join(modelDir(), 'tokenizer.json'), 'utf8'));
    tok.added_tokens = [];
    replaceFile(dir, 'tokenizer.json', JSON.stringify(tok));
    assert.throws(
      () => loadModelFolder(dir),
      (e: unknown) => e instanceof ModelFolderError && /no special token with id/.test(e.message),
    );
  });
});

describe('reliability: execution provider', () => {
  it("'cuda' without the CUDA libraries runs on the CPU and says why", async function () {
    const client = new ModelClient({ modelDir: modelDir(), provider: 'cuda', workerPath: WORKER });
    try {
      const info = await client.ready;
      if (info.provider === 'cuda') this.skip(); // a machine with CUDA installed: nothing to fall back from
      assert.equal(info.requested, 'cuda');
      assert.equal(info.provider, 'cpu');
      assert.match(info.fallbackReason ?? '', /CUDA provider unavailable/);
      const c = await client.complete('file:///tmp/cuda.ts', PREFIX, 4);
      assert.ok(c.tokens > 0, 'the CPU answers');
    } finally {
      await client.dispose();
    }
  });
});

/**
 * A worker whose "CUDA" sessions are CPU sessions (there is no GPU here) that fail as CUDA does when told:
 * onnxruntime's create() is wrapped, and { type: 'injectCudaFault', runs } makes the next `runs` runs of a
 * session created with the CUDA provider throw a CUDA error. The real worker is loaded after it.
 */
function cudaWorker(): string {
  const file = path.join(tempDir('cuda-worker'), 'worker.js');
  const ort = require.resolve('onnxruntime-node', { paths: [ROOT] });
  fs.writeFileSync(
    file,
    `const { parentPort } = require('node:worker_threads');
const ort = require(${JSON.stringify(ort)});
let failing = 0;
const create = ort.InferenceSession.create;
ort.InferenceSession.create = async function (file, options) {
  const eps = (options.executionProviders || []).map((p) => (typeof p === 'string' ? p : p.name));
  const session = await create.call(this, file, { ...options, executionProviders: ['cpu'] });
  if (eps.includes('cuda')) {
    const run = session.run.bind(session);
    session.run = (...args) => {
      if (failing > 0) {
        failing--;
        return Promise.reject(new Error('[ONNXRuntimeError] : 1 : FAIL : CUDA error cudaErrorLaunchFailure: unspecified launch failure'));
      }
      return run(...args);
    };
  }
  return session;
};
parentPort.on('message', (m) => {
  if (m && m.type === 'injectCudaFault') failing = m.runs;
});
require(${JSON.stringify(WORKER)});
`,
  );
  return file;
}

describe('reliability: CUDA failing mid-run (through the worker the extension uses)', () => {
  it('the request is answered on the CPU, the client hears of the change, the log says why', async () => {
    const logs: string[] = [];
    const changes: RuntimeInfo[] = [];
    const client = new ModelClient({
      modelDir: modelDir(),
      provider: 'cuda',
      workerPath: cudaWorker(),
      log: (level, message) => logs.push(`${level}: ${message}`),
      onInfoChange: (info) => changes.push(info),
    });
    try {
      const info = await client.ready;
      assert.equal(info.provider, 'cuda');
      const uri = 'file:///tmp/cuda-mid-run.ts';
      const good = await client.complete(uri, PREFIX, 6, undefined, false);
      (client as unknown as { worker: { postMessage(m: unknown): void } }).worker.postMessage({
        type: 'injectCudaFault',
        runs: 1,
      });
      const retried = await client.complete(uri, `${PREFIX} `, 6, undefined, false);
      assert.ok(retried.tokens > 0, 'the failing request was answered (retried on the CPU)');
      assert.equal(changes.length, 1, 'one info update');
      assert.equal(changes[0]!.provider, 'cpu');
      assert.equal(changes[0]!.requested, 'cuda');
      assert.equal(changes[0]!.precision, info.precision, 'the same precision');
      assert.match(
        changes[0]!.fallbackReason ?? '',
        /CUDA provider failed mid-run.*unspecified launch failure/,
      );
      assert.equal(client.info?.provider, 'cpu', 'the client reports the CPU from now on');
      assert.ok(
        logs.some((l) => /^warn: CUDA provider failed mid-run/.test(l)),
        `a warning in the log: ${logs.join(' | ')}`,
      );
      const again = await client.complete(uri, PREFIX, 6, undefined, false);
      assert.equal(again.text, good.text, 'later requests answer as before, on the CPU');
    } finally {
      await client.dispose();
    }
  });
});

/**
 * A worker that loads the real one after wrapping onnxruntime's run(): a { type: 'injectFault', runs }
 * message makes the next `runs` graph runs throw, as a failing provider would.
 */
function faultyWorker(): string {
  const file = path.join(tempDir('faulty-worker'), 'worker.js');
  const ort = require.resolve('onnxruntime-node', { paths: [ROOT] });
  fs.writeFileSync(
    file,
    `const { parentPort } = require('node:worker_threads');
const ort = require(${JSON.stringify(ort)});
let failing = 0;
const run = ort.InferenceSession.prototype.run;
ort.InferenceSession.prototype.run = function (...args) {
  if (failing > 0) {
    failing--;
    return Promise.reject(new Error('injected inference fault'));
  }
  return run.apply(this, args);
};
parentPort.on('message', (m) => {
  if (m && m.type === 'injectFault') failing = m.runs;
});
require(${JSON.stringify(WORKER)});
`,
  );
  return file;
}

describe('reliability: an inference error does not poison later requests', () => {
  let client: ModelClient;
  const inject = (runs: number): void =>
    (client as unknown as { worker: { postMessage(m: unknown): void } }).worker.postMessage({
      type: 'injectFault',
      runs,
    });

  before(async () => {
    client = new ModelClient({
      modelDir: modelDir(),
      provider: 'cpu',
      workerPath: faultyWorker(),
      editDebounceMs: 0,
    });
    await client.ready;
  });

  after(async () => {
    await client.dispose();
  });

  it('a completion fails with the error, the next one succeeds', async () => {
    const uri = 'file:///tmp/fault-complete.ts';
    const good = await client.complete(uri, PREFIX, 6);
    inject(1);
    await assert.rejects(client.complete(uri, `${PREFIX} `, 6), /injected inference fault/);
    const again = await client.complete(uri, PREFIX, 6);
    assert.equal(again.text, good.text, 'the same suggestion as before the fault');
  });

  it('a state build that fails leaves the document usable, and the next edit builds it', async () => {
    const uri = 'file:///tmp/fault-state.ts';
    inject(1);
    client.documentChanged(uri, 1, () => TEXT, 0);
    await client.whenIdle(uri);
    assert.notEqual(client.documentState(uri)?.builtVersion, 1, 'the failed build is not reported built');
    const c = await client.complete(uri, PREFIX, 4);
    assert.ok(c.tokens > 0, 'completions work while the state is missing');
    client.documentChanged(uri, 2, () => TEXT, 0);
    await client.whenIdle(uri);
    const info = client.documentState(uri);
    assert.equal(info?.builtVersion, 2);
    assert.ok(info.tokens > 0);
    client.documentClosed(uri);
  });
});

describe('reliability: stopping the worker mid-run', () => {
  it('disposing the client while a state builds does not abort the process (model reloads do this)', async () => {
    for (let i = 0; i < 3; i++) {
      let building!: () => void;
      const started = new Promise<void>((r) => (building = r));
      const client = new ModelClient({
        modelDir: modelDir(),
        provider: 'cpu',
        workerPath: WORKER,
        onBusyChange: (n) => n > 0 && building(),
      });
      await client.ready;
      client.documentChanged('file:///tmp/stop.ts', 1, () => TEXT.repeat(6), 0);
      await started;
      await new Promise((r) => setTimeout(r, 100 * i));
      // Before the worker was asked to finish its graph first, terminate() here aborted Node with a Napi::Error.
      await client.dispose();
    }
  });
});
