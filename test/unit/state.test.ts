import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  completeLine,
  DocumentState,
  FastWeightState,
  FileFastWeights,
  ModelConfig,
  ModelScheduler,
} from '../../src/runtime';
import { DocumentStates } from '../../src/adaptation/documentStates';
import { FIXTURES, noteSpread, runtime } from './helpers';

const TEXT = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('fast-weight state', () => {
  it('builds a document state from the file, and a reset empties it (adapted == static)', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    await doc.rebuild(TEXT, { priority: 'foreground', chunkTokens: 64 });
    const ids = rt.tokenizer.encode(TEXT);
    assert.equal(doc.tokenCount, ids.length, 'every position with a next token contributes');
    const prefix = TEXT.slice(0, TEXT.indexOf('perimeter'));
    const t = doc.positionForPrefix(prefix);
    const adapted = doc.stateAt(t);
    assert.ok(adapted.norm() > 0, 'a built state is not zero');

    const h = (await rt.body([rt.config.bos_token_id, ...ids.slice(0, 8)], 0, undefined)).hidden;
    const row = h.subarray(8 * rt.config.d_model);
    const zero = await rt.head(row, 1, rt.zeroState());
    const withState = await rt.head(row, 1, adapted);
    assert.ok(maxAbsDiff(zero, withState) > 0, 'the state changes the logits');

    doc.reset();
    assert.equal(doc.tokenCount, 0);
    const after = doc.stateAt(t);
    assert.ok(after.isZero());
    const afterLogits = await rt.head(row, 1, after);
    assert.equal(maxAbsDiff(zero, afterLogits), 0, 'after a reset the adapted logits equal the static ones');
    const s = await completeLine(rt, prefix, { maxTokens: 12 });
    const a = await completeLine(rt, prefix, { maxTokens: 12, state: after });
    assert.equal(a.text, s.text);
  });

  it('per-document states: build, reset, drop on close', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 10, openDelayMs: 0 });
    states.setRuntime(rt);
    const doc = { uri: 'file:///tmp/a.ts', version: 1, getText: () => TEXT };
    states.opened(doc);
    await new Promise((r) => setTimeout(r, 5));
    await states.whenIdle(doc.uri);
    assert.ok((states.info(doc.uri)?.tokens ?? 0) > 0);
    assert.equal(states.info(doc.uri)?.builtVersion, 1);
    assert.ok(states.stateFor(doc.uri, TEXT.slice(0, 100)));
    states.reset(doc.uri);
    assert.equal(states.info(doc.uri)?.tokens, 0);
    assert.equal(states.stateFor(doc.uri, TEXT.slice(0, 100)), undefined);
    states.changed({ ...doc, version: 2 });
    await new Promise((r) => setTimeout(r, 15));
    await states.whenIdle(doc.uri);
    assert.equal(states.info(doc.uri)?.builtVersion, 2);
    states.closed(doc.uri);
    assert.equal(states.info(doc.uri), undefined);
    states.dispose();
  });

  it('cancels a build superseded by an edit', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    const big = TEXT.repeat(6);
    states.opened({ uri: 'file:///tmp/b.ts', version: 1, getText: () => big });
    await new Promise((r) => setTimeout(r, 5));
    states.changed({ uri: 'file:///tmp/b.ts', version: 2, getText: () => TEXT });
    await new Promise((r) => setTimeout(r, 5));
    await states.whenIdle('file:///tmp/b.ts');
    assert.equal(states.info('file:///tmp/b.ts')?.builtVersion, 2);
    states.dispose();
  });
});

/** The cursor offsets DocumentState.prepareCursor was called with while `run` ran. */
async function cursorSums(run: () => Promise<void>): Promise<number[]> {
  const prepared: number[] = [];
  const original = DocumentState.prototype.prepareCursor;
  DocumentState.prototype.prepareCursor = function (offset: number) {
    prepared.push(offset);
    original.call(this, offset);
  };
  try {
    await run();
  } finally {
    DocumentState.prototype.prepareCursor = original;
  }
  return prepared;
}

describe('per-document states: the cursor', () => {
  // About 13,000 tokens; every line marked with its copy's number, so that no chunk repeats another.
  const big = Array.from({ length: 33 }, (_, i) => TEXT.replace(/\n/g, ` // ${i}\n`)).join('\n');
  const uri = 'file:///tmp/cursor.ts';

  it('sums the state where the cursor comes to rest, once for a burst of moves', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    states.opened({ uri, version: 1, getText: () => TEXT, cursorOffset: 0 });
    await states.whenIdle(uri);
    const prepared = await cursorSums(async () => {
      for (const offset of [100, 300, 500, 700]) states.cursorMoved(uri, offset);
      await states.whenIdle(uri);
    });
    assert.deepEqual(prepared, [700], 'one sum, at the last place the cursor rested');
    states.dispose();
  });

  it('after typing, prepares the state at the cursor the change carried, not where it rested before', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    states.opened({ uri, version: 1, getText: () => TEXT, cursorOffset: 0 });
    await states.whenIdle(uri);
    states.cursorMoved(uri, 200);
    await states.whenIdle(uri);
    const typed = TEXT.slice(0, 200) + 'x = 1;' + TEXT.slice(200);
    const prepared = await cursorSums(async () => {
      states.changed({ uri, version: 2, getText: () => typed, cursorOffset: 206 });
      await states.whenIdle(uri);
    });
    assert.deepEqual(prepared, [206]);
    states.dispose();
  });

  it('readies the chunk where the cursor rests, so that typing there resumes the body at the typed token', async () => {
    const rt = await runtime();
    const text = big.slice(0, Math.floor(big.length / 4)); // about 3,000 tokens, all in the state
    const lineEnd = text.indexOf('\n', Math.floor(text.length * 0.8));
    const typed = text.slice(0, lineEnd) + ' // typed' + text.slice(lineEnd);
    const typeAfter = async (rest: boolean): Promise<{ body: number; state: FastWeightState }> => {
      // (Chunks one by one: groups made around the first cursor would differ between the two paths.)
      const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0, groupFar: false });
      states.setRuntime(rt);
      states.opened({ uri, version: 1, getText: () => text, cursorOffset: 0 });
      await states.whenIdle(uri);
      if (rest) {
        states.cursorMoved(uri, lineEnd);
        await states.whenIdle(uri);
      }
      states.changed({ uri, version: 2, getText: () => typed, cursorOffset: lineEnd + 9 });
      await states.whenIdle(uri);
      const info = states.info(uri)!;
      assert.equal(info.builtVersion, 2);
      const state = states
        .stateFor(uri, typed.slice(0, lineEnd + 9))!
        .state()
        .clone();
      states.dispose();
      return { body: info.bodyTokens ?? 0, state };
    };
    const cold = await typeAfter(false);
    const ready = await typeAfter(true);
    // Without the rest the edited chunk warms up on the 255 tokens before it and runs from its start.
    assert.ok(
      ready.body <= cold.body - 255,
      `body positions: ${ready.body} after a rest, ${cold.body} without`,
    );
    const diff = ready.state.clone().addScaled(cold.state, -1).norm() / cold.state.norm();
    noteSpread('state.rest_vs_cold', diff);
    assert.ok(diff < 1e-4, `relative difference ${diff}`);
  });

  it("keeps a large file's window while edits stay in its middle half", async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    const middle = Math.floor(big.length / 2);
    await doc.rebuild(big, { priority: 'foreground', maxTokens: 4096, cursorOffset: middle });
    // An edit about 700 tokens after the middle: inside the window's middle half.
    const at = big.indexOf('\n', middle + 2400);
    const edited = big.slice(0, at) + ' // edited' + big.slice(at);
    await doc.rebuild(edited, { priority: 'foreground', maxTokens: 4096, cursorOffset: at + 10 });
    assert.ok(doc.lastBuildComputed <= 3, `${doc.lastBuildComputed} chunks computed for a one-line edit`);
    // One far outside it moves the window (new chunks at its edge).
    const far = edited.indexOf('\n', middle + 9000);
    const moved = edited.slice(0, far) + ' // edited' + edited.slice(far);
    await doc.rebuild(moved, { priority: 'foreground', maxTokens: 4096, cursorOffset: far + 10 });
    assert.ok(doc.lastBuildComputed > 3, `${doc.lastBuildComputed} chunks computed after the window moved`);
    assert.ok(doc.tokenCount <= 4096);
  });

  it("rebuilds a large file's window around a cursor that left it", async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0, maxTokens: 512 });
    states.setRuntime(rt);
    states.opened({ uri, version: 1, getText: () => big, cursorOffset: 0 });
    await states.whenIdle(uri);
    const far = Math.floor(big.length * 0.9);
    const stateAtFar = (): FastWeightState => states.stateFor(uri, big.slice(0, far))!.state();
    assert.ok(stateAtFar().isZero(), 'the window at the top of the file does not reach the cursor');
    states.cursorMoved(uri, far);
    await states.whenIdle(uri);
    assert.equal(states.info(uri)?.builtVersion, 1);
    assert.ok((states.info(uri)?.computedChunks ?? 0) > 0, 'chunks around the cursor were computed');
    assert.ok(!stateAtFar().isZero(), 'the state now holds the text around the cursor');
    assert.ok((states.info(uri)?.tokens ?? 0) <= 512);
    const lastBuild = states.info(uri)?.buildMs;
    states.cursorMoved(uri, far + 40);
    await states.whenIdle(uri);
    assert.equal(states.info(uri)?.buildMs, lastBuild, 'a cursor inside the window starts no build');
    // At the very end of the file the window reaches the end already: resting there starts no build.
    states.cursorMoved(uri, big.length);
    await states.whenIdle(uri);
    const atEnd = states.info(uri)?.buildMs;
    states.cursorMoved(uri, big.length - 1);
    await states.whenIdle(uri);
    assert.equal(states.info(uri)?.buildMs, atEnd, 'a window that holds the end is not moved again');
    states.dispose();
  });
});

describe('state arithmetic', () => {
  const shapes = {
    state_w1: [2, 3],
    state_b1: [3],
    state_w2: [3, 2],
    state_b2: [2],
    state_gamma: [2],
    state_beta: [2],
  };

  it('adds, scales and resets', () => {
    const a = FastWeightState.zeros(shapes);
    const b = FastWeightState.zeros(shapes);
    b.tensors.state_w1.fill(2);
    a.addScaled(b, 0.5);
    assert.equal(a.tensors.state_w1[0], 1);
    a.axpby(2, b, 1);
    assert.equal(a.tensors.state_w1[5], 4);
    a.sumScaled(a, 1, b, -2);
    assert.equal(a.tensors.state_w1[3], 0);
    b.setZero();
    assert.ok(b.isZero());
  });

  it('weights chunks by decay from both sides', () => {
    const config = {
      fwl: { decay: 0.5, normaliser: 1, state_rule: 'exp_decay' },
      state_tensors: shapes,
    } as unknown as ModelConfig;
    const file = new FileFastWeights(config);
    const one = (): FastWeightState => {
      const s = FastWeightState.zeros(shapes);
      s.tensors.state_b2.fill(1);
      return s;
    };
    file.setChunks([
      { first: 0, last: 3, tokens: 4, fromEnd: one(), fromStart: one() },
      { first: 10, last: 13, tokens: 4, fromEnd: one(), fromStart: one() },
    ]);
    assert.equal(file.tokenCount, 8);
    // Position 6: the first chunk ended at 3 -> 0.5^(6-1-3) = 0.25; causal ignores the later chunk.
    assert.equal(file.stateAt(6, 'causal').tensors.state_b2[0], 0.25);
    // Whole file adds the chunk starting at 10: 0.5^(10-6-1) = 0.125.
    assert.equal(file.stateAt(6, 'whole_file').tensors.state_b2[0], 0.375);
    file.reset();
    assert.ok(file.stateAt(6).isZero());
  });
});

describe('model scheduler', () => {
  it('runs foreground work before waiting background work', async () => {
    const s = new ModelScheduler();
    const order: string[] = [];
    const slow = (name: string) => async () => {
      order.push(name);
      await new Promise((r) => setTimeout(r, 5));
    };
    const p1 = s.run('background', slow('bg1'));
    const p2 = s.run('background', slow('bg2'));
    const p3 = s.run('foreground', slow('fg'));
    await Promise.all([p1, p2, p3]);
    assert.deepEqual(order, ['bg1', 'fg', 'bg2']);
  });
});
