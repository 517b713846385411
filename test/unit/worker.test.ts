import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ModelClient, RequestCancelled } from '../../src/host/client';
import { FIXTURES, workerClient } from './helpers';

const TEXT = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');

describe('model worker (what the extension runs)', () => {
  let client: ModelClient;

  before(async () => {
    client = workerClient({ editDebounceMs: 20 });
    const info = await client.ready;
    assert.equal(info.provider, 'cpu');
  });

  after(async () => {
    await client.dispose();
  });

  it('builds a document state off the main thread: the event loop stays free', async () => {
    const uri = 'file:///tmp/worker-sample.ts';
    // A build on this thread would run from start to end without letting the timer fire; off the main
    // thread, the timer keeps ticking while it runs. (Lag is printed, not asserted: it depends on the load.)
    let maxLag = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    client.documentChanged(uri, 1, () => TEXT.repeat(4), 0);
    await client.whenIdle(uri);
    clearInterval(timer);
    const info = client.documentState(uri);
    assert.ok(info && info.tokens > 0, 'state built');
    assert.equal(info.builtVersion, 1);
    console.log(
      `      state of ${info.tokens} tokens in ${info.buildMs.toFixed(0)} ms; max event-loop lag ${maxLag.toFixed(1)} ms, ${ticks} timer ticks`,
    );
    assert.ok(ticks >= 3, `the main-thread timer fired only ${ticks} times during the build`);
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

  it("mixes the workspace index into adapted completions, leaving the file's own copy out", async () => {
    const uri = 'file:///tmp/worker-workspace.ts';
    const line = 'const retryPolicy = createExponentialBackoff({ maxAttempts:';
    const other = `import { createExponentialBackoff } from './backoff';\n\n${line} 7, baseDelayMs: 250, jitter: 0.3 });\n`;
    const doc = `import { createExponentialBackoff } from './backoff';\n\nexport function connect() {\n  ${line}`;
    client.documentChanged(uri, 1, () => doc, 0);
    await client.whenIdle(uri);
    const without = await client.complete(uri, doc, 16);
    // The document's own (stale) copy holds the answer: left out, it must not be what the index predicts.
    const leaked = await client.setWorkspace([{ uri, text: `${doc} 11, baseDelayMs: 999 });\n` }]);
    assert.equal(leaked.files, 1);
    const ownOnly = await client.complete(uri, doc, 16);
    assert.equal(ownOnly.text, without.text, 'the file itself is not its own workspace');
    const built = await client.setWorkspace([
      { uri: 'file:///tmp/retry.ts', text: other },
      { uri, text: `${doc} 11, baseDelayMs: 999 });\n` },
    ]);
    assert.equal(built.files, 2);
    assert.equal(built.tokenized, 1, 'the unchanged file is not tokenized again');
    assert.ok(built.tokens > 20 && built.bytes === 6 * built.tokens);
    const withIndex = await client.complete(uri, doc, 16);
    assert.ok(
      withIndex.text.startsWith(' 7, baseDelayMs: 250'),
      `with the workspace: ${JSON.stringify(withIndex.text)}`,
    );
    assert.ok(!without.text.startsWith(' 7, baseDelayMs: 250'), `without: ${JSON.stringify(without.text)}`);
    const statik = await client.complete(uri, doc, 16, undefined, false);
    assert.ok(!statik.text.startsWith(' 7, baseDelayMs: 250'), 'the static model does not use the index');
    assert.equal((await client.setWorkspace([])).files, 0);
    assert.equal((await client.complete(uri, doc, 16)).text, without.text, 'an empty list drops the index');
    client.documentClosed(uri);
  });

  it("adds the state of a file's related files once computed, and the panel's evaluation names them", async () => {
    // (Never read from disk: the files travel with the message, under this machine's temporary folder.)
    const root = pathToFileURL(path.join(os.tmpdir(), 'fw-repo')).href;
    const uri = `${root}/src/app.ts`;
    const helper = `${root}/src/backoff.ts`;
    const doc = `import { createBackoff } from './backoff';\n\n${TEXT}`;
    const files = [
      { uri: helper, text: TEXT.replace(/area/g, 'createBackoff') },
      { uri, text: doc },
      { uri: `${root}/tools/unrelated.py`, text: 'def main():\n    return 1\n' },
    ];
    client.documentChanged(uri, 1, () => doc, 0);
    await client.whenIdle(uri);
    const progress: string[] = [];
    await client.setWorkspace(files, [root], (done, total) => progress.push(`${done}/${total}`));
    // (At most four reports a second, the first and the last always.)
    assert.deepEqual([progress[0], progress.at(-1)], ['1/3', '3/3'], progress.join(', '));
    client.cursorMoved(uri, doc.length);
    let r = await client.evaluate(doc, 0, undefined, undefined, uri);
    for (let i = 0; i < 100 && !r.repositoryFiles; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await client.evaluate(doc, 0, undefined, undefined, uri);
    }
    // The file it imports first, then the rest by folder distance; never the file itself.
    assert.deepEqual(r.repositoryFiles, [helper, `${root}/tools/unrelated.py`]);
    assert.ok(
      Number.isFinite(r.repositoryBits) && r.repositoryBits !== r.wholeFileBits,
      String(r.repositoryBits),
    );
    await client.setWorkspace([]);
    const dropped = await client.evaluate(doc, 0, undefined, undefined, uri);
    assert.equal(dropped.repositoryFiles, undefined, 'an empty workspace drops the repository state');
    client.documentClosed(uri);
  });

  it('fails a workspace request when the worker stops before the index is built (the feed never stalls)', async () => {
    const other = workerClient();
    await other.ready;
    const pending = other.setWorkspace([
      { uri: 'file:///tmp/a.ts', text: 'export const a = 1;\n'.repeat(2000) },
    ]);
    await other.dispose();
    await assert.rejects(pending, /worker stopped/);
    await assert.rejects(other.setWorkspace([]), /worker stopped/, 'a stopped client says so at once');
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

  it('re-adapts an edit from cached chunks and drops states over the memory budget', async () => {
    const uri = 'file:///tmp/worker-incremental.ts';
    const text = TEXT.repeat(3);
    client.documentChanged(uri, 1, () => text, 0);
    await client.whenIdle(uri);
    const first = client.documentState(uri)!;
    assert.ok(first.tokens > 0 && (first.computedChunks ?? 0) >= 2, JSON.stringify(first));
    const at = text.indexOf('\n', Math.floor(text.length / 2));
    const edited = `${text.slice(0, at)} // edited${text.slice(at)}`;
    client.documentChanged(uri, 2, () => edited, 0, at);
    await client.whenIdle(uri);
    const second = client.documentState(uri)!;
    assert.equal(second.builtVersion, 2);
    assert.ok((second.computedChunks ?? 99) <= 2, `${second.computedChunks} chunks computed for one edit`);
    client.setMemoryBudget(0);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (client.documentState(uri)?.tokens === 0) resolve(clearInterval(poll));
      }, 10);
    });
    client.setMemoryBudget(256);
    client.documentClosed(uri);
  });

  it("moves a large file's state window to where the editor's cursor comes to rest", async () => {
    const uri = 'file:///tmp/worker-cursor.ts';
    // About 13,000 tokens (more than the 8,192 a state holds), every line marked with its copy's number.
    const big = Array.from({ length: 33 }, (_, i) => TEXT.replace(/\n/g, ` // ${i}\n`)).join('\n');
    client.documentChanged(uri, 1, () => big, 0, 0);
    await client.whenIdle(uri);
    const before = client.documentState(uri)!;
    client.cursorMoved(uri, big.length - 10);
    const deadline = Date.now() + 60000;
    for (;;) {
      const now = client.documentState(uri)!;
      if (now.buildMs !== before.buildMs && !now.building) break;
      assert.ok(Date.now() < deadline, 'no rebuild around the cursor within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = client.documentState(uri)!;
    assert.equal(after.builtVersion, 1);
    assert.ok((after.computedChunks ?? 0) > 0, JSON.stringify(after));
    client.documentClosed(uri);
  });

  it("prefills the prompt where the cursor comes to rest in a file opened or switched to, and keeps the last two files' prompts", async () => {
    const files = ['a', 'b', 'c'].map((n) => `file:///tmp/worker-prompt-${n}.ts`);
    const prefix = TEXT.slice(0, TEXT.indexOf('perimeter'));
    for (const uri of files) {
      client.documentChanged(uri, 1, () => TEXT, 0, prefix.length);
      await client.whenIdle(uri);
    }
    // The cursor rests in file a before the first request there: its prompt was prefilled meanwhile (the
    // cursor message reaches the worker before the request, and the warm-up takes the model first).
    client.cursorMoved(files[0]!, prefix.length);
    await new Promise((r) => setTimeout(r, 400));
    const warmed = await client.complete(files[0]!, prefix, 8);
    assert.ok(warmed.promptTokens > 50);
    assert.ok(warmed.cachedPromptTokens >= warmed.promptTokens - 4, JSON.stringify(warmed));
    // A request with no rest before it: the whole prompt is fed.
    const cold = await client.complete(files[1]!, prefix, 8);
    assert.equal(cold.cachedPromptTokens, 0);
    // Back to file a after one other file: its keys are still there; file c pushes out the older of a and b.
    const back = await client.complete(files[0]!, prefix, 8);
    assert.ok(back.cachedPromptTokens >= back.promptTokens - 4, JSON.stringify(back));
    assert.equal(back.text, warmed.text);
    await client.complete(files[2]!, prefix, 8);
    assert.equal((await client.complete(files[1]!, prefix, 8)).cachedPromptTokens, 0, 'b was dropped');
    for (const uri of files) client.documentClosed(uri);
  });

  it('evaluates a text with progress', async () => {
    let progress = 0;
    const r = await client.evaluate(TEXT, 0, undefined, (done) => (progress = done));
    assert.equal(progress, r.tokens);
    assert.ok(r.staticBits > 0 && (r.adaptedBits ?? 0) > 0);
    assert.equal(r.fileTokens, r.tokens);
  });
});
