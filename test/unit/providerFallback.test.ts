/**
 * CUDA failing mid-run (issue 8). There is no GPU here, so onnxruntime's session factory is wrapped: a session
 * asked for with the CUDA provider is a real CPU session whose run() can be told to throw a CUDA-like error.
 * Everything above the factory is the real code path: createSessions, FastWeightsRuntime, completeLine.
 */
import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { completeLine, createSessions, FastWeightsRuntime, loadModelFolder } from '../../src/runtime';
import { modelDir } from './helpers';

const CUDA_ERROR =
  '[ONNXRuntimeError] : 1 : FAIL : CUDA failure 700: an illegal memory access was encountered ; GPU=0';

interface Created {
  file: string;
  providers: string[];
  threads: number | undefined;
  released: boolean;
}

/** Wraps InferenceSession.create while a test runs; `cuda.fail` / `cpu.fail` make the next runs throw. */
class FakeCuda {
  readonly created: Created[] = [];
  readonly cuda = { fail: 0, runs: 0 };
  readonly cpu = { fail: 0, runs: 0, failCreate: 0 };
  private readonly realCreate = ort.InferenceSession.create;

  install(): void {
    const realCreate = this.realCreate;
    const fake = async (
      file: string,
      options: ort.InferenceSession.SessionOptions,
    ): Promise<ort.InferenceSession> => {
      const providers = (options.executionProviders ?? []).map((p) => (typeof p === 'string' ? p : p.name));
      const onCuda = providers.includes('cuda');
      if (!onCuda && this.cpu.failCreate > 0) {
        this.cpu.failCreate--;
        throw new Error('injected: no memory for the CPU sessions');
      }
      const session = await realCreate(file, { ...options, executionProviders: ['cpu'] });
      const record: Created = { file, providers, threads: options.intraOpNumThreads, released: false };
      this.created.push(record);
      const counters = onCuda ? this.cuda : this.cpu;
      const run = session.run.bind(session) as (...a: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
      const release = session.release.bind(session);
      Object.assign(session, {
        run: (...args: unknown[]) => {
          counters.runs++;
          if (counters.fail > 0) {
            counters.fail--;
            return Promise.reject(new Error(onCuda ? CUDA_ERROR : 'injected CPU inference fault'));
          }
          return run(...args);
        },
        release: () => {
          record.released = true;
          return release();
        },
      });
      return session;
    };
    ort.InferenceSession.create = fake as unknown as typeof ort.InferenceSession.create;
  }

  uninstall(): void {
    ort.InferenceSession.create = this.realCreate;
  }

  sessions(kind: 'cuda' | 'cpu'): Created[] {
    return this.created.filter((c) => c.providers.includes('cuda') === (kind === 'cuda'));
  }
}

const PREFIX = 'function add(a: number, b: number): number {\n  return ';

describe('reliability: CUDA failing mid-run falls back to the CPU', () => {
  let fake: FakeCuda;
  beforeEach(() => {
    fake = new FakeCuda();
    fake.install();
  });
  afterEach(() => fake.uninstall());

  it('a completion whose run fails on CUDA is retried on the CPU; the model stays there and says why', async () => {
    // What the asked int8 precision loads and answers on the CPU, for the fallback to match.
    const cpuRt = await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu', precision: 'int8' });
    const onCpu = await completeLine(cpuRt, PREFIX, { maxTokens: 6 });
    await cpuRt.dispose();
    const cpuFiles = fake.sessions('cpu').map((c) => c.file);
    fake.created.length = 0;
    const rt = await FastWeightsRuntime.load({
      modelDir: modelDir(),
      provider: 'cuda',
      threads: 1,
      contributionThreads: 2,
      precision: 'int8',
    });
    const changes: string[] = [];
    rt.sessions.onProviderChange((reason) => changes.push(reason));
    try {
      assert.equal(rt.info.provider, 'cuda');
      assert.equal(rt.info.precision, 'fp32', 'CUDA runs the fp32 graphs although int8 was asked for');
      assert.equal(rt.info.fallbackReason, undefined);
      const cudaFiles = fake.sessions('cuda').map((c) => c.file);
      assert.ok(
        cudaFiles.length >= 3 && cudaFiles.every((f) => !f.includes('int8')),
        'no int8 graph on CUDA',
      );
      await completeLine(rt, PREFIX, { maxTokens: 6 });

      fake.cuda.fail = 1;
      const after = await completeLine(rt, PREFIX, { maxTokens: 6 });
      assert.equal(after.text, onCpu.text, 'the retried request answers as the CPU model does');
      assert.equal(fake.cuda.fail, 0, 'the injected CUDA fault was hit');

      const info = rt.info;
      assert.equal(info.provider, 'cpu');
      assert.equal(info.requested, 'cuda');
      assert.equal(info.precision, 'int8', 'the asked precision, now on the CPU');
      assert.match(info.fallbackReason ?? '', /CUDA provider failed mid-run/);
      assert.ok(info.fallbackReason?.includes(CUDA_ERROR), 'the reason carries the CUDA error');
      assert.deepEqual(changes, [info.fallbackReason], 'the listener heard of the change once');

      const cpu = fake.sessions('cpu');
      assert.deepEqual(
        cpu.map((c) => c.file),
        cpuFiles,
        'the graph files a CPU runtime asked for int8 loads',
      );
      assert.ok(
        cpu.some((c) => c.file.includes('int8')),
        'int8 graphs on the CPU',
      );
      assert.ok(cpu.every((c) => c.providers.join() === 'cpu'));
      assert.deepEqual(
        cpu.map((c) => (c.file.includes('contribution') ? c.threads === 2 : c.threads === 1)),
        cpu.map(() => true),
        'the same thread counts',
      );
      assert.ok(
        fake.sessions('cuda').every((c) => c.released),
        'the failed CUDA sessions are released',
      );

      const cudaRuns = fake.cuda.runs;
      const again = await completeLine(rt, PREFIX, { maxTokens: 6 });
      assert.equal(again.text, onCpu.text);
      assert.equal(fake.cuda.runs, cudaRuns, 'nothing runs on CUDA any more');
      assert.equal(fake.sessions('cpu').length, cpu.length, 'the CPU sessions are made once');
    } finally {
      await rt.dispose();
    }
    assert.ok(
      fake.created.every((c) => c.released),
      'dispose releases every session',
    );
  });

  it('runs failing on CUDA together switch once; a later CPU error is only that run’s error', async () => {
    const model = loadModelFolder(modelDir());
    const rt = await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu' });
    const s = await createSessions(model, { provider: 'cuda' });
    const cpuBefore = fake.sessions('cpu').length;
    let changes = 0;
    s.onProviderChange(() => changes++);
    try {
      const ids = [1, 2, 3];
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, 3]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2], BigInt), [1, 3]),
        past_keys: new ort.Tensor('float32', new Float32Array(0), [
          model.config.n_layer,
          1,
          model.config.n_head,
          0,
          model.config.head_dim,
        ]),
        past_values: new ort.Tensor('float32', new Float32Array(0), [
          model.config.n_layer,
          1,
          model.config.n_head,
          0,
          model.config.head_dim,
        ]),
      };
      const expected = (await rt.sessions.body.run(feeds))['hidden']!.data as Float32Array;
      fake.cuda.fail = 2;
      const [a, b] = await Promise.all([s.body.run(feeds), s.body.run(feeds)]);
      assert.deepEqual(a['hidden']!.data, expected);
      assert.deepEqual(b['hidden']!.data, expected);
      assert.equal(changes, 1, 'one switch');
      assert.equal(s.provider, 'cpu');
      const cpuSessions = fake.sessions('cpu').length;
      assert.equal(cpuSessions - cpuBefore, model.files.fastChunk ? 4 : 3, 'one set of CPU sessions');

      // Now on the CPU: a failing run fails alone, nothing is recreated, the next run succeeds.
      fake.cpu.fail = 1;
      await assert.rejects(s.body.run(feeds), /injected CPU inference fault/);
      assert.equal(s.provider, 'cpu');
      assert.equal(fake.sessions('cpu').length, cpuSessions);
      assert.deepEqual((await s.body.run(feeds))['hidden']!.data, expected);
      assert.equal(changes, 1);
    } finally {
      await s.release();
      await rt.dispose();
    }
  });

  it('an error in the feeds is not blamed on CUDA, and a failed switch leaves the next failure to retry it', async () => {
    const model = loadModelFolder(modelDir());
    const s = await createSessions(model, { provider: 'cuda' });
    try {
      // Errors in the feeds are the caller's bug, which the CPU would raise too: no fallback.
      await assert.rejects(s.body.run({}), /is missing in 'feeds'/);
      const wrongRank = new ort.Tensor('float32', new Float32Array(2), [2]);
      const bad: Record<string, ort.Tensor> = {};
      for (const name of s.head.inputNames) bad[name] = wrongRank;
      await assert.rejects(s.head.run(bad), /Invalid rank for input/);
      assert.equal(s.provider, 'cuda');
      assert.equal(fake.sessions('cpu').length, 0);

      const hidden = new ort.Tensor('float32', new Float32Array(model.config.d_model), [
        1,
        1,
        model.config.d_model,
      ]);
      const feeds: Record<string, ort.Tensor> = { hidden };
      for (const [name, shape] of Object.entries(model.config.state_tensors)) {
        const size = shape.reduce((x, y) => x * y, 1);
        feeds[name] = new ort.Tensor('float32', new Float32Array(size), shape);
      }
      fake.cuda.fail = 1;
      fake.cpu.failCreate = 1;
      await assert.rejects(s.head.run(feeds), /CUDA provider failed mid-run.*could not be created/);
      assert.equal(s.provider, 'cuda', 'still on CUDA: nothing to fall back to yet');
      assert.equal(s.fallbackReason, undefined);

      fake.cuda.fail = 1;
      const out = await s.head.run(feeds);
      assert.ok(out['logits']!.data.length > 0);
      assert.equal(s.provider, 'cpu');
      assert.match(s.fallbackReason ?? '', /CUDA provider failed mid-run \(head graph/);
    } finally {
      await s.release();
    }
  });
});
