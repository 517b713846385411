import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BlockTokenizer,
  blockHash,
  blockStarts,
  commonAffix,
  CompactState,
  completeLine,
  DocumentState,
  FastWeightState,
  layoutChunks,
  FastWeightsRuntime,
  log2Prob,
  matchTape,
  preparePrompt,
  PromptCache,
} from '../../src/runtime';
import { DocumentStates } from '../../src/adaptation/documentStates';
import { CompactKv, isPreciseKv } from '../../src/runtime/compactKv';
import type { KvCache } from '../../src/runtime/runtime';
import { FIXTURES, modelDir, noteSpread, ROOT, runtime } from './helpers';

const TS = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
const PY = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
const PARITY = fs.readFileSync(path.join(ROOT, 'models', 'fw-code-small', 'parity_fixture.ts'), 'utf8');

/** ||a - b|| / ||b|| over all state tensors. */
function relativeDiff(a: FastWeightState, b: FastWeightState): number {
  const diff = a.clone().addScaled(b, -1);
  return diff.norm() / b.norm();
}

describe('incremental tokenization', () => {
  const awkward = [
    'a = 1  \nb = 2\t\n\tc = 3\r\n  d = "é ü 中"\n\n\n}\n  \n x\n',
    'function f() {\n    return 1;\n}\n\n\nconst y = [1,2,3];   \n',
  ];

  it('gives the ids of the whole text tokenized at once', async () => {
    const rt = await runtime();
    const blocks = new BlockTokenizer(rt.tokenizer);
    for (const text of [TS, PY, PARITY, ...awkward]) {
      assert.ok(blockStarts(text).length > 1);
      assert.deepEqual(blocks.tokenize(text).ids, rt.tokenizer.encode(text));
    }
    // After an edit in the middle (blocks now come from the cache except the edited one).
    const edited = PARITY.replace('\n', ' // x\n');
    assert.deepEqual(blocks.tokenize(edited).ids, rt.tokenizer.encode(edited));
  });

  it('re-cuts only around an edit: random edits give the blocks and ids of a fresh tokenization', async () => {
    const rt = await runtime();
    const incremental = new BlockTokenizer(rt.tokenizer);
    let seed = 7;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const pieces = ['\n', ' ', '\t', 'x', '}\n', '\n\n', '  ', 'return a;', '\r\n', 'é', ' \n', ')'];
    let text = [TS, PY].join('\n');
    incremental.tokenize(text);
    for (let step = 0; step < 150; step++) {
      const at = random(text.length + 1);
      const cut = random(4) === 0 ? random(40) : 0;
      const insert = Array.from({ length: random(4) }, () => pieces[random(pieces.length)]!).join('');
      text = text.slice(0, at) + insert + text.slice(Math.min(text.length, at + cut));
      if (step % 50 === 49) text = ''; // and from nothing again
      const got = incremental.tokenize(text);
      const fresh = new BlockTokenizer(rt.tokenizer).tokenize(text);
      assert.deepEqual(got.ids, rt.tokenizer.encode(text), `ids after edit ${step}`);
      assert.deepEqual(
        got.blocks.map((b) => [b.start, b.text, b.firstToken, b.hash]),
        fresh.blocks.map((b) => [b.start, b.text, b.firstToken, blockHash(b.text)]),
        `blocks after edit ${step}`,
      );
    }
  });

  it('finds the common prefix and suffix of two texts as a character loop does', () => {
    const loop = (a: string, b: string, max: number, fromEnd: boolean): number => {
      let n = 0;
      const at = (s: string, i: number): string => s[fromEnd ? s.length - 1 - i : i]!;
      while (n < Math.min(max, a.length, b.length) && at(a, n) === at(b, n)) n++;
      return n;
    };
    let seed = 3;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 300; step++) {
      const a = TS.slice(0, random(TS.length));
      const at = random(a.length + 1);
      const b = a.slice(0, at) + 'xyz'.slice(0, random(4)) + a.slice(Math.min(a.length, at + random(3)));
      const max = random(4) === 0 ? random(50) : Infinity;
      for (const fromEnd of [false, true]) {
        assert.equal(commonAffix(a, b, max, fromEnd), loop(a, b, max, fromEnd), `step ${step}`);
      }
    }
  });

  it('counts the tokens before a cursor like tokenizing the prefix', async () => {
    const rt = await runtime();
    const blocks = new BlockTokenizer(rt.tokenizer);
    const tokenized = blocks.tokenize(TS);
    for (const at of [0, 1, 17, 100, 333, Math.floor(TS.length / 2), TS.length - 3, TS.length]) {
      assert.equal(
        blocks.tokensBefore(tokenized, at),
        rt.tokenizer.encode(TS.slice(0, at)).length,
        `at ${at}`,
      );
    }
  });
});

describe('compact chunk contributions', () => {
  it('stores a state in about a quarter of the bytes and adds it back within 2%', async () => {
    const rt = await runtime();
    const { hidden } = await rt.hiddenOf([rt.config.bos_token_id, ...rt.tokenizer.encode(TS)].slice(0, 129));
    const ids = [rt.config.bos_token_id, ...rt.tokenizer.encode(TS)];
    const state = await rt.contribution(
      hidden.subarray(0, 128 * rt.config.d_model),
      ids.slice(1, 129),
      new Float32Array(128).fill(1),
    );
    const compact = CompactState.from(state);
    assert.ok(compact.byteLength < 0.3 * state.byteLength, `${compact.byteLength} of ${state.byteLength}`);
    const back = rt.newState();
    compact.addScaledTo(back, 0.5);
    const half = rt.newState().addScaled(state, 0.5);
    const err = relativeDiff(back, half);
    noteSpread('compact.int8_rows', err);
    assert.ok(err > 0 && err < 0.02, `relative error ${err}`); // measured 1.2% (one chunk, int8 per row)
  });
});

describe('prompt cache tape', () => {
  it('matches a prompt that continues the tape, or starts inside it', () => {
    const tape = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(matchTape(tape, [0, 1, 2, 3, 500]), { shared: 4, resumeAt: 4 });
    // The cut moved forward: the prompt starts at tape index 40 (its first token tokenized differently).
    const inside = [999, ...tape.slice(41, 90), 7];
    assert.deepEqual(matchTape(tape, inside), { shared: 50, resumeAt: 90 });
    // A short chance agreement is no alignment, and one prompt token is always left to feed.
    assert.deepEqual(matchTape(tape, [...tape.slice(50, 55), 1000]), { shared: 0, resumeAt: 0 });
    assert.equal(matchTape(tape, tape.slice(0, 10)).shared, 9);
  });
});

describe('prompt cache across a moved prompt cut', () => {
  it('reuses the keys and values when the start of a long prompt moves forward', async () => {
    const rt = await runtime();
    const lines = Array.from({ length: 400 }, (_, i) => `export const value${i} = compute(${i}, "v${i}");`);
    const long = lines.join('\n') + '\n';
    const cache = new PromptCache();
    const at = Math.floor(long.length * 0.6);
    const options = { maxTokens: 4, promptCache: cache, maxPromptTokens: 256 };
    await completeLine(rt, long.slice(0, at), options);
    const later = long.slice(0, at + 700); // the cut moves by at least one 512-character step
    assert.notDeepEqual(preparePrompt(rt, later, 256, true).ids.slice(0, 8), cache.ids.slice(0, 8));
    const c = await completeLine(rt, later, options);
    // The text both prompts hold (from the new cut to the old end) comes from the cache, not only a chance
    // agreement of the first token or two as with a plain common prefix.
    assert.ok(c.cachedPromptTokens >= 16, `cached ${c.cachedPromptTokens} of ${c.promptTokens} tokens`);
    assert.equal(cache.hits, 1);
  });
});

describe('chunk layout', () => {
  it('moves no chunk boundary far from a one-line edit', async () => {
    const rt = await runtime();
    const text = [PARITY, TS, PY, PARITY.replace(/state/g, 'store')].join('\n');
    const lines = text.split('\n');
    // Chunks whose cache key (their tokens and the 16 before them) an edit changes: they are computed again.
    const keys = (t: string): Set<string> => {
      const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(t);
      const ids = [0, ...tokenized.ids];
      return new Set(
        layoutChunks(tokenized, 192).map((c) => ids.slice(Math.max(0, c.first - 16), c.end + 1).join(',')),
      );
    };
    const before = keys(text);
    const changed: number[] = [];
    for (let i = 0; i < lines.length; i += 3) {
      const edited = [...lines.slice(0, i), lines[i] + ' // edited', ...lines.slice(i + 1)].join('\n');
      changed.push([...keys(edited)].filter((k) => !before.has(k)).length);
    }
    // The edited chunk, a neighbour whose key context or boundary it touched, and at most one more.
    assert.ok(Math.max(...changed) <= 3, `chunks changed per edit: ${changed.join(' ')}`);
    assert.ok(changed.every((n) => n >= 1));
  });
});

describe('incremental document state', () => {
  /** The state's layout and chunk cache, which these tests read. */
  type Inside = {
    layout: { key: string; first: number; last: number }[];
    computed: Map<string, { fromEnd: CompactState }>;
  };
  const inside = (doc: DocumentState): Inside => doc as unknown as Inside;
  const text = [TS, PY, TS.replace(/area/g, 'size')].join('\n');
  const lines = text.split('\n');
  const middle = Math.floor(lines.length / 2);
  const edited = [...lines.slice(0, middle), lines[middle] + ' // changed', ...lines.slice(middle + 1)].join(
    '\n',
  );

  it('recomputes only the edited chunk (and its neighbour) and nothing on undo', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    await doc.rebuild(text, { priority: 'foreground', chunkTokens: 64 });
    assert.ok(doc.chunkCount >= 8, `${doc.chunkCount} chunks`);
    assert.equal(doc.lastBuildComputed, doc.chunkCount);
    assert.equal(doc.tokenCount, rt.tokenizer.encode(text).length, 'every position with a next token counts');
    await doc.rebuild(edited, { priority: 'foreground', chunkTokens: 64 });
    assert.ok(doc.lastBuildComputed >= 1 && doc.lastBuildComputed <= 2, `${doc.lastBuildComputed} computed`);
    assert.equal(doc.tokenCount, rt.tokenizer.encode(edited).length);
    await doc.rebuild(text, { priority: 'foreground', chunkTokens: 64 });
    assert.equal(doc.lastBuildComputed, 0, 'undo finds every chunk in the cache');
  });

  it('after an edit, agrees with a state built from scratch', async () => {
    const rt = await runtime();
    const incremental = new DocumentState(rt);
    await incremental.rebuild(text, { priority: 'foreground', chunkTokens: 64 });
    await incremental.rebuild(edited, { priority: 'foreground', chunkTokens: 64 });
    const scratch = new DocumentState(rt);
    await scratch.rebuild(edited, { priority: 'foreground', chunkTokens: 64 });
    for (const prefix of [edited.slice(0, 200), edited.slice(0, Math.floor(edited.length * 0.7))]) {
      const a = incremental.stateAt(incremental.positionForPrefix(prefix));
      const b = scratch.stateAt(scratch.positionForPrefix(prefix));
      assert.ok(b.norm() > 0);
      // Only the recomputed chunks differ: their body pass warmed up on 255 tokens instead of the whole file,
      // and the chunks kept from before saw the old text (measured: about 2%).
      const err = relativeDiff(a, b);
      noteSpread('incremental.edit_vs_scratch', err);
      assert.ok(err < 0.05, `relative difference ${err}`);
    }
  });

  it('resumes the body at the edited token in a chunk near the cursor, with the state of a whole pass', async () => {
    const rt = await runtime();
    const traced = new DocumentState(rt);
    const whole = new DocumentState(rt);
    const build = async (doc: DocumentState, t: string, traces: boolean): Promise<void> => {
      const cursorOffset = t.indexOf('\n', t.length / 2);
      await doc.rebuild(t, { priority: 'foreground', chunkTokens: 64, cursorOffset, traces });
    };
    // Typing at the end of a line near the cursor, then an edit earlier in that line, then one after it.
    const line = lines[middle]!;
    const versions = [line + ' // c', line + ' // cha', '  ' + line + ' // cha', line + ' // chang'].map(
      (l) => [...lines.slice(0, middle), l, ...lines.slice(middle + 1)].join('\n'),
    );
    await build(traced, text, true);
    await build(whole, text, false);
    let saved = 0;
    for (const version of versions) {
      await build(traced, version, true);
      await build(whole, version, false);
      assert.equal(traced.lastBuildComputed, whole.lastBuildComputed);
      assert.ok(traced.lastBuildBodyTokens <= whole.lastBuildBodyTokens);
      saved += whole.lastBuildBodyTokens - traced.lastBuildBodyTokens;
      for (const at of [0.3, 0.5, 0.52, 0.8]) {
        const t = Math.floor(traced.tokenCount * at);
        const err = relativeDiff(traced.stateAt(t), whole.stateAt(t));
        noteSpread('incremental.resume_vs_whole', err);
        // Both are fp32 passes over the same tokens, batched differently, so their kernels differ in the last
        // bits: measured up to 1.0e-4 here (AMD Zen 4, fused graphs; 0.6e-4 unfused), and the same whole
        // pass fused against unfused kernels differs by 1.2e-4 (npm run bench:spread). 1e-3 leaves room
        // for other CPUs; resuming one token late gives 6e-3 and more (see the closing note of issue 23).
        assert.ok(err < 1e-3, `relative difference ${err} at ${at}`);
      }
    }
    assert.ok(saved > 0, 'some body positions were not run again');
  });

  it('starts an edit a few screens from the cursor at an int8 snapshot: no warm-up, closer to a full pass', async () => {
    const rt = await runtime();
    const big = [PARITY, TS, PY, PARITY.replace(/state/g, 'store')].join('\n');
    const bigLines = big.split('\n');
    const cursorOffset = big.indexOf('\n', big.length / 2);
    const at = Math.floor(bigLines.length / 2) + 40; // about seven 64-token chunks after the cursor
    const edited = [...bigLines.slice(0, at), bigLines[at] + ' // changed', ...bigLines.slice(at + 1)].join(
      '\n',
    );
    const editWith = async (snapshots: boolean): Promise<{ doc: DocumentState; fresh: string[] }> => {
      const doc = new DocumentState(rt);
      await doc.rebuild(big, { priority: 'foreground', chunkTokens: 64, cursorOffset, snapshots });
      const before = new Set(inside(doc).layout.map((c) => c.key));
      await doc.rebuild(edited, { priority: 'foreground', chunkTokens: 64, cursorOffset, snapshots });
      return {
        doc,
        fresh: inside(doc)
          .layout.filter((c) => !before.has(c.key))
          .map((c) => c.key),
      };
    };
    const compact = await editWith(true);
    const warm = await editWith(false);
    const scratch = new DocumentState(rt); // one pass from the document's start: exact
    await scratch.rebuild(edited, { priority: 'foreground', chunkTokens: 64, snapshots: false });
    const contribution = (doc: DocumentState, key: string): FastWeightState => {
      const state = rt.zeroState().clone();
      inside(doc).computed.get(key)!.fromEnd.addScaledTo(state, 1);
      return state;
    };
    const chunkPositions = inside(compact.doc)
      .layout.filter((c) => compact.fresh.includes(c.key))
      .reduce((n, c) => n + c.last - c.first + 1, 0);
    assert.ok(compact.fresh.length > 0);
    assert.ok(
      compact.doc.lastBuildBodyTokens <= chunkPositions,
      `${compact.doc.lastBuildBodyTokens} body positions`,
    );
    assert.ok(warm.doc.lastBuildBodyTokens >= chunkPositions + 200, 'without snapshots the edit warms up');
    for (const key of compact.fresh) {
      const fromSnapshot = relativeDiff(contribution(compact.doc, key), contribution(scratch, key));
      const fromWarmUp = relativeDiff(contribution(warm.doc, key), contribution(scratch, key));
      noteSpread('incremental.snapshot_vs_scratch', fromSnapshot);
      // Measured: about 0.7% against 3-5% for a warm-up.
      assert.ok(
        fromSnapshot < 0.02 && fromSnapshot < fromWarmUp / 2,
        `${fromSnapshot} vs warm-up ${fromWarmUp}`,
      );
    }
  });

  it('starts an edit right after an earlier one at the snapshot the earlier one left, not a warm-up', async () => {
    const rt = await runtime();
    const big = [PARITY, TS, PY].join('\n');
    const bigLines = big.split('\n');
    const cursorOffset = big.indexOf('\n', big.length / 2);
    const first = Math.floor(bigLines.length / 2);
    const withEdits = (...at: number[]): string =>
      bigLines.map((l, i) => (at.includes(i) ? l + ' // changed' : l)).join('\n');
    const doc = new DocumentState(rt);
    const build = (t: string): Promise<void> =>
      doc.rebuild(t, { priority: 'foreground', chunkTokens: 64, cursorOffset });
    await build(big);
    await build(withEdits(first));
    // A line two chunks after the first edit: the snapshot at its chunk's start (the 255 tokens before it)
    // holds the first edit's old text, so it no longer matches; the one a chunk earlier was left by that edit.
    const once = withEdits(first);
    const position = (line: number): number =>
      doc.positionForPrefix(once.split('\n').slice(0, line).join('\n') + '\n');
    const chunks = inside(doc).layout;
    const k = chunks.findIndex((c) => c.last >= position(first));
    const target = chunks[k + 2]!;
    let second = first + 1;
    while (position(second) <= target.first) second++;
    assert.ok(position(second) <= target.last && target.first - chunks[k + 1]!.first < 255);
    const before = new Set(chunks.map((c) => c.key));
    const twice = withEdits(first, second);
    await build(twice);
    const fresh = inside(doc).layout.filter((c) => !before.has(c.key));
    const positions = fresh.reduce((n, c) => n + c.last - c.first + 1, 0);
    // Body work: the chunk(s) plus the chunk between, fewer positions than the 255-token warm-up.
    assert.ok(doc.lastBuildBodyTokens < positions + 255, `${doc.lastBuildBodyTokens} body positions`);
    // Closer to a pass from the document's start than after a warm-up (measured: 1.0% against 6.5%; what is
    // left comes from the first build, which computed the chunks near the cursor after a warm-up).
    const scratch = new DocumentState(rt);
    await scratch.rebuild(twice, { priority: 'foreground', chunkTokens: 64, snapshots: false });
    for (const c of fresh) {
      const state = (d: DocumentState): FastWeightState => {
        const s = rt.zeroState().clone();
        inside(d).computed.get(c.key)!.fromEnd.addScaledTo(s, 1);
        return s;
      };
      const err = relativeDiff(state(doc), state(scratch));
      noteSpread('incremental.second_edit_vs_scratch', err);
      assert.ok(err < 0.03, `chunk at ${c.first}: relative difference ${err}`);
    }
  });

  it('rounds the precise snapshots left far from a resting cursor to int8 before typing starts there', async () => {
    const rt = await runtime();
    type Snapshots = { snapshots: Map<string, { kv: KvCache | CompactKv }> };
    const precise = (kv: KvCache | CompactKv): boolean => 'pieces' in kv && isPreciseKv(kv);
    const big = [PARITY, TS, PY, PARITY.replace(/state/g, 'store')].join('\n');
    const doc = new DocumentState(rt);
    await doc.rebuild(big, {
      priority: 'foreground',
      chunkTokens: 64,
      cursorOffset: big.indexOf('\n', big.length / 2),
    });
    const preciseKeys = (): string[] =>
      [...(doc as unknown as Snapshots).snapshots].filter(([, sn]) => precise(sn.kv)).map(([key]) => key);
    const before = preciseKeys();
    // (The cursor chunk's start only: SNAPSHOT_CHUNKS = 0.)
    assert.equal(before.length, 1, `${before.length} precise snapshots around the cursor`);
    // The cursor comes to rest about 45 lines further (more than three 64-token chunks away).
    const lines = big.split('\n');
    const rest = lines.slice(0, Math.floor(lines.length / 2) + 45).join('\n').length;
    assert.ok(await doc.prepareEdit(rest, { priority: 'foreground' }));
    // Only the snapshot of the chunk readied there stays precise: the old cursor chunk's is int8 now.
    assert.equal(preciseKeys().length, 1, `${preciseKeys().length} precise snapshots`);
    assert.ok(!preciseKeys().includes(before[0]!), 'the old cursor chunk keeps its precise snapshot');
  });

  it('moves the summed state with the cursor as a fresh sum would give it', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    await doc.rebuild(text, { priority: 'foreground', chunkTokens: 64 });
    const fresh = (t: number): FastWeightState => {
      doc.dropCursorCache();
      return doc.stateAt(t).clone();
    };
    const at = [0.3, 0.34, 0.45, 0.4, 0.38].map((f) =>
      doc.positionForPrefix(text.slice(0, Math.floor(text.length * f))),
    );
    const expected = at.map(fresh);
    doc.dropCursorCache();
    at.forEach((t, i) => {
      const moved = doc.stateAt(t);
      // Far chunks weigh under 1e-4 either way; the recurrence is otherwise exact.
      assert.ok(
        relativeDiff(moved, expected[i]!) < 1e-3,
        `position ${t}: ${relativeDiff(moved, expected[i]!)}`,
      );
    });
  });

  it('keeps the summed cursor state across edits and rebuilds as a fresh sum gives it', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    const cursorOffset = text.indexOf('\n', Math.floor(text.length / 2));
    await doc.rebuild(text, { priority: 'foreground', chunkTokens: 64, cursorOffset });
    doc.stateAt(doc.positionForPrefix(text.slice(0, cursorOffset)));
    // Typing at the cursor (tokens added), at a far line, a removed line, and back: each time the sums are
    // carried to the new layout (or a side summed anew) and chunks computed later are added to them.
    const texts = [
      text.slice(0, cursorOffset) + ' foo(bar, baz);' + text.slice(cursorOffset),
      text.slice(0, cursorOffset) + ' foo(bar, baz); qux' + text.slice(cursorOffset),
      text.replace('\n', ' // first line\n'),
      lines.slice(0, 3).concat(lines.slice(4)).join('\n'),
      text,
    ];
    let carriedAtLeastOnce = false;
    for (const next of texts) {
      await doc.rebuild(next, { priority: 'foreground', chunkTokens: 64, cursorOffset });
      carriedAtLeastOnce ||= doc.byteLength > 0 && doc.hasCursorState;
      for (const f of [cursorOffset, Math.floor(next.length * 0.2), cursorOffset - 40]) {
        const t = doc.positionForPrefix(next.slice(0, f));
        const carried = doc.stateAt(t).clone();
        doc.dropCursorCache();
        const expected = doc.stateAt(t); // summed afresh from the same chunk contributions
        assert.ok(expected.norm() > 0);
        const err = relativeDiff(carried, expected);
        assert.ok(err < 1e-3, `offset ${f}: relative difference ${err}`);
      }
    }
    assert.ok(carriedAtLeastOnce, 'the sums survived a rebuild');
  });

  it('carries the summed cursor state across an edit a few chunks away with a few chunk terms', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    const cursorOffset = text.indexOf('\n', Math.floor(text.length / 2));
    const options = { priority: 'foreground' as const, chunkTokens: 64, cursorOffset };
    await doc.rebuild(text, options);
    const t = doc.positionForPrefix(text.slice(0, cursorOffset));
    doc.stateAt(t);
    // Chunk contributions added into the sums (every sum goes through CompactState.accumulate).
    const passes = { n: 0 };
    const accumulate = CompactState.accumulate;
    CompactState.accumulate = (out, terms, a) => {
      passes.n += terms.length;
      accumulate(out, terms, a);
    };
    try {
      // Lines added 12 lines before and 12 after the cursor: every chunk beyond moves by their tokens.
      const at = (k: number): number =>
        text
          .split('\n')
          .slice(0, middle + k)
          .join('\n').length;
      const edits = [
        text.slice(0, at(-12)) + '\nconst added = 1; // here' + text.slice(at(-12)),
        text.slice(0, at(12)) + '\nlet more = [1, 2, 3];' + text.slice(at(12)),
      ];
      for (const next of edits) {
        passes.n = 0; // the rebuild's own chunk passes: the carry and the recomputed chunks
        await doc.rebuild(next, options);
        const tNext = doc.positionForPrefix(
          next.slice(0, next.indexOf(text.slice(cursorOffset, cursorOffset + 40))),
        );
        const carried = doc.stateAt(tNext).clone();
        const movedPasses = passes.n;
        doc.dropCursorCache();
        passes.n = 0;
        const expected = doc.stateAt(tNext);
        const freshPasses = passes.n;
        // The far chunks' weights changed by lambda^delta; a fresh sum leaves out the few that now weigh < 1e-4.
        assert.ok(
          relativeDiff(carried, expected) < 1e-3,
          `relative difference ${relativeDiff(carried, expected)}`,
        );
        assert.ok(freshPasses >= 12, `${freshPasses} chunks summed afresh`);
        assert.ok(movedPasses <= freshPasses / 2, `${movedPasses} chunk terms, ${freshPasses} afresh`);
      }
    } finally {
      CompactState.accumulate = accumulate;
    }
  });

  it('builds the chunks nearest the cursor first and holds a window of maxTokens positions', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    const cursorOffset = Math.floor(text.length * 0.8);
    let cancelAfter = 16; // checks, two per scheduler unit (a body slice or one contribution)
    const build = doc.rebuild(text, {
      priority: 'foreground',
      chunkTokens: 64,
      cursorOffset,
      isCancelled: () => cancelAfter-- < 0,
    });
    await assert.rejects(build, /cancelled/);
    const t = doc.positionForPrefix(text.slice(0, cursorOffset));
    assert.ok(doc.tokenCount > 0, 'some chunks were done before the cancel');
    assert.ok(!doc.stateAt(t).isZero(), 'the chunks done first are those near the cursor');
    const windowed = new DocumentState(rt);
    await windowed.rebuild(text, { priority: 'foreground', chunkTokens: 64, maxTokens: 300, cursorOffset });
    assert.ok(windowed.tokenCount <= 300 && windowed.tokenCount > 100, `${windowed.tokenCount} tokens`);
  });
});

describe('per-document states: memory budget', () => {
  it('drops the least recently used states beyond the budget', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    const open = async (uri: string): Promise<number> => {
      states.opened({ uri, version: 1, getText: () => TS });
      await new Promise((r) => setTimeout(r, 1));
      await states.whenIdle(uri);
      return states.info(uri)!.bytes;
    };
    const one = await open('file:///a.ts');
    assert.ok(one > 0);
    // (Over a budget, older states are folded first: this one is too small to gain from it.)
    states.setBudget(Math.floor(one * 0.6));
    await open('file:///b.ts');
    assert.equal(states.info('file:///a.ts')?.tokens, 0, 'the older state was dropped');
    assert.ok((states.info('file:///b.ts')?.tokens ?? 0) > 0);
    states.closed('file:///b.ts');
    assert.equal(states.info('file:///b.ts'), undefined);
    states.dispose();
  });
});

describe('int8 graphs', () => {
  let int8: FastWeightsRuntime | undefined;
  after(async () => int8?.dispose());

  it('load when asked for and score code within 1% of fp32', async function () {
    const rt = await runtime();
    if (!rt.model.files.int8.body) this.skip(); // a model folder without graphs_int8
    int8 = await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu', precision: 'int8' });
    assert.equal(int8.info.precision, 'int8');
    assert.equal(rt.info.precision, 'fp32');
    const ids = [rt.config.bos_token_id, ...rt.tokenizer.encode(PARITY)].slice(0, 257);
    const bits = async (r: FastWeightsRuntime): Promise<number> => {
      const { hidden } = await r.hiddenOf(ids.slice(0, -1));
      const logits = await r.head(hidden, ids.length - 1, r.zeroState());
      let sum = 0;
      for (let i = 0; i + 1 < ids.length; i++) sum -= log2Prob(logits, i, r.config.vocab_size, ids[i + 1]!);
      return sum;
    };
    const [fp32Bits, int8Bits] = [await bits(rt), await bits(int8)];
    noteSpread('int8.bits_vs_fp32', Math.abs(int8Bits / fp32Bits - 1));
    assert.ok(Math.abs(int8Bits / fp32Bits - 1) < 0.01, `fp32 ${fp32Bits} bits, int8 ${int8Bits} bits`);
    assert.notEqual(int8Bits, fp32Bits, 'different graphs ran');
  });

  it('return chunk contributions already quantized per row, as CompactState.from would store them', async function () {
    const rt = await runtime();
    if (!rt.model.files.int8.contribution) this.skip(); // a folder without the int8 contribution graph
    int8 ??= await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu', precision: 'int8' });
    assert.ok(int8.sessions.contribution.outputNames.includes('state_w1_int8'), 'row-quantized outputs');
    const ids = [rt.config.bos_token_id, ...rt.tokenizer.encode(TS)].slice(0, 97);
    const { hidden } = await int8.hiddenOf(ids.slice(0, -1));
    const weightings = [new Float32Array(96).fill(1), Float32Array.from({ length: 96 }, (_, j) => 0.99 ** j)];
    const quantizedByGraph = await int8.compactContributions(hidden, ids.slice(1), weightings);
    const plain = await int8.contributions(hidden, ids.slice(1), weightings);
    assert.equal(quantizedByGraph.length, 2);
    for (let k = 0; k < 2; k++) {
      const here = CompactState.from(plain[k]!);
      assert.equal(quantizedByGraph[k]!.byteLength, here.byteLength, 'the same storage');
      const a = rt.newState();
      quantizedByGraph[k]!.addScaledTo(a, 1);
      const b = rt.newState();
      here.addScaledTo(b, 1);
      noteSpread('int8.graph_vs_js_rounding', relativeDiff(a, b));
      noteSpread('int8.rows_vs_fp32', relativeDiff(a, plain[k]!));
      // The same rounding up to the odd tie or last-bit difference between x / s and x * (1 / s).
      assert.ok(relativeDiff(a, b) < 1e-3, `graph vs JS rounding: ${relativeDiff(a, b)}`);
      assert.ok(relativeDiff(a, plain[k]!) < 0.02, `vs fp32: ${relativeDiff(a, plain[k]!)}`);
    }
  });
});
