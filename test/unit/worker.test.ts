import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelClient, RequestCancelled } from '../../src/host/client';
import { FIXTURES, ROOT, modelDir } from './helpers';

const TEXT = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');

describe('model worker (what the extension runs)', () => {
  let client: ModelClient;

  before(async () => {
    client = new ModelClient({
      modelDir: modelDir(),
      provider: 'cpu',
      workerPath: path.join(ROOT, 'out', 'worker.js'),
      editDebounceMs: 20,
    });
    const info = await client.ready;
    assert.equal(info.provider, 'cpu');
  });

  after(async () => {
    await client.dispose();
  });

  it('builds a document state off the main thread: the event loop stays free', async () => {
    const uri = 'file:///tmp/worker-sample.ts';
    let maxLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
    }, 5);
    client.documentChanged(uri, 1, () => TEXT.repeat(4), 0);
    await client.whenIdle(uri);
    clearInterval(timer);
    const info = client.documentState(uri);
    assert.ok(info && info.tokens > 0, 'state built');
    assert.equal(info.builtVersion, 1);
    console.log(
      `      state of ${info.tokens} tokens in ${info.buildMs.toFixed(0)} ms; max event-loop lag ${maxLag.toFixed(1)} ms`,
    );
    assert.ok(maxLag < 250, `the main thread was blocked for ${maxLag.toFixed(0)} ms`);
  });

  it('completes with the document state, and statically after a reset', async () => {
    const uri = 'file:///tmp/worker-sample.ts';
    const prefix = TEXT.slice(0, TEXT.indexOf('perimeter'));
    const adapted = await client.complete(uri, prefix, 12);
    assert.ok(adapted.stateTokens > 0);
    client.reset(uri);
    await client.whenIdle(uri);
    assert.equal(client.documentState(uri)?.tokens, 0);
    const afterReset = await client.complete(uri, prefix, 12);
    assert.equal(afterReset.stateTokens, 0);
    const noAdapt = await client.complete(uri, prefix, 12, undefined, false);
    assert.equal(afterReset.text, noAdapt.text, 'after a reset the suggestion is the static one');
    client.documentClosed(uri);
    assert.equal(client.documentState(uri), undefined);
  });

  it('debounces edits and builds the latest version only', async () => {
    const uri = 'file:///tmp/worker-edits.ts';
    for (let v = 1; v <= 5; v++) client.documentChanged(uri, v, () => TEXT.slice(0, 200 * v));
    await client.whenIdle(uri);
    assert.equal(client.documentState(uri)?.builtVersion, 5);
    client.documentClosed(uri);
  });

  it('cancels a request', async () => {
    let listener: (() => void) | undefined;
    const token = {
      isCancellationRequested: false,
      onCancellationRequested: (l: () => void) => {
        listener = l;
        return { dispose: () => undefined };
      },
    };
    const p = client.evaluate(TEXT.repeat(8), 0, token);
    setTimeout(() => {
      token.isCancellationRequested = true;
      listener?.();
    }, 20);
    await assert.rejects(p, (e: unknown) => e instanceof RequestCancelled);
  });

  it('evaluates a text with progress', async () => {
    let progress = 0;
    const r = await client.evaluate(TEXT, 0, undefined, (done) => (progress = done));
    assert.equal(progress, r.tokens);
    assert.ok(r.staticBits > 0 && (r.adaptedBits ?? 0) > 0);
    assert.equal(r.fileTokens, r.tokens);
  });
});
