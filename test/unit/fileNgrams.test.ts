import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DocumentStates } from '../../src/adaptation/documentStates';
import {
  BlockTokenizer,
  blocksAround,
  CacheMatch,
  cacheWeight,
  causalCacheProbs,
  DEFAULT_NGRAM_PARAMS,
  completeLine,
  DocumentState,
  evaluateText,
  FastWeightsRuntime,
  FileNgrams,
  MAX_CONTEXT,
  mixedBits,
  mixWithCache,
  summarise,
  unfinishedLineBlocks,
} from '../../src/runtime';
import { FIXTURES, modelDir, ROOT, runtime } from './helpers';

const TS = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
const PY = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
/** A longer real file (from the valid split). */
const PARITY = fs.readFileSync(path.join(ROOT, 'models', 'fw-code-small', 'parity_fixture.ts'), 'utf8');

/**
 * The back-off rule of training/cache_peer.py, counted naively from a token list, and the gate's features
 * (longest context matched, its count, the share of its most frequent continuation).
 */
function reference(
  ids: readonly number[],
  context: readonly number[],
  beta: number,
  vocab: number,
): Float64Array & { match?: CacheMatch } {
  const p: Float64Array & { match?: CacheMatch } = new Float64Array(vocab);
  for (const x of ids) p[x] = p[x]! + 1 / ids.length;
  p.match = { order: 0, count: ids.length, top: 0 };
  for (let k = 1; k <= MAX_CONTEXT && k <= context.length; k++) {
    const ctx = context.slice(context.length - k);
    const follow = new Map<number, number>();
    let total = 0;
    for (let j = k; j < ids.length; j++) {
      if (ctx.every((c, i) => ids[j - k + i] === c)) {
        follow.set(ids[j]!, (follow.get(ids[j]!) ?? 0) + 1);
        total++;
      }
    }
    if (total === 0) break;
    for (let x = 0; x < vocab; x++) p[x] = (p[x]! * beta + (follow.get(x) ?? 0)) / (total + beta);
    p.match = { order: k, count: total, top: Math.max(...follow.values()) / total };
  }
  return p;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${what}: entry ${i}: ${a[i]} vs ${b[i]}`);
  }
}

describe('file n-gram cache', () => {
  it('gives the back-off distribution of the cache peer', async () => {
    const rt = await runtime();
    const V = rt.config.vocab_size;
    const text = TS.slice(0, 3000);
    const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(text);
    const cache = new FileNgrams(V);
    cache.update(tokenized);
    assert.equal(cache.tokenCount, tokenized.ids.length);
    const out = new Float32Array(V);
    const ids = tokenized.ids;
    // Contexts seen in the file (every order reached), one never seen, and an empty one.
    const contexts = [
      ids.slice(100, 107),
      ids.slice(100, 103),
      ids.slice(40, 47),
      ids.slice(7, 9),
      [V - 1, V - 2, V - 3],
      [],
    ];
    const orders = new Set<number>();
    for (const context of contexts) {
      const match = cache.distribution(context, 0.5, out);
      assert.ok(match);
      const sum = out.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `sums to ${sum}`);
      const expected = reference(ids, context, 0.5, V);
      assertClose(out, expected, `context ${context.join(',')}`);
      assert.deepEqual(match, expected.match);
      orders.add(match.order);
    }
    assert.ok(orders.has(MAX_CONTEXT) && orders.has(0), [...orders].join(','));
  });

  it('scores each token with the cache of the text before it (the Python cache peer)', async () => {
    const rt = await runtime();
    const ids = rt.tokenizer.encode(PARITY);
    assert.ok(ids.length > 1000);
    const params = { ...DEFAULT_NGRAM_PARAMS, beta: 0.5 };
    const { p, weight } = causalCacheProbs(ids, params);
    assert.equal(p[0], 0);
    for (const j of [1, 2, 5, 40, 200, 777, ids.length - 1]) {
      const expected = reference(
        ids.slice(0, j),
        ids.slice(Math.max(0, j - MAX_CONTEXT), j),
        0.5,
        rt.config.vocab_size,
      );
      assert.ok(Math.abs(p[j]! - expected[ids[j]!]!) < 1e-9, `token ${j}: ${p[j]} vs ${expected[ids[j]!]}`);
      assert.ok(Math.abs(weight[j]! - cacheWeight(params, expected.match!)) < 1e-12, `weight ${j}`);
    }
  });

  it('evaluation mixes each mode with the cache, token by token', async () => {
    const rt = await runtime();
    const text = PARITY;
    const params = DEFAULT_NGRAM_PARAMS;
    const s = await evaluateText(rt, text, { ngrams: params });
    const per = s.perToken!;
    const { p, weight } = causalCacheProbs(rt.tokenizer.encode(text), params);
    let expected = 0;
    for (let j = 0; j < per.adaptedBits!.length; j++)
      expected += mixedBits(per.adaptedBits![j]!, p[j]!, weight[j]!, j === 0);
    assert.ok(Math.abs(s.cacheBits!.adapted! - expected) < 1e-6);
    // The cache helps on a file that repeats itself, and the summary reports the three mixed modes.
    assert.ok(s.cacheBits!.wholeFile! < s.wholeFileBits!);
    const summary = summarise(rt, [s]);
    assert.ok(
      summary.adapted_whole_file_ngram_cache!.bits_per_byte! < summary.adapted_whole_file.bits_per_byte,
    );
    assert.ok(summary.ngram_cache!.bits_per_byte! < summary.static.bits_per_byte);
    assert.ok((await evaluateText(rt, text)).cacheBits === undefined);
  });

  it('leaves out the unfinished line at the cursor, so it does not predict the line ending there', async () => {
    const rt = await runtime();
    const text = 'export function area(width: number, height: number): number {\n  return \n}\n';
    const cursor = text.indexOf('return ') + 'return '.length;
    const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(text);
    const skip = unfinishedLineBlocks(tokenized, text, cursor);
    assert.ok(skip.length > 0);
    assert.deepEqual(unfinishedLineBlocks(tokenized, text, text.indexOf('\n}') + 1), []); // nothing before it
    const cache = new FileNgrams(rt.config.vocab_size);
    cache.update(tokenized, 0, tokenized.blocks.length, skip);
    const counted = skip.reduce((n, b) => n - (tokenized.blocks[b]?.ids.length ?? 0), tokenized.ids.length);
    assert.equal(cache.tokenCount, counted);
    // The extension's int8 graphs: counting the unfinished line too made this suggestion come out empty.
    const int8 = await FastWeightsRuntime.load({
      modelDir: modelDir(),
      provider: 'cpu',
      precision: 'int8',
      threads: 1,
    });
    try {
      const prefix = text.slice(0, cursor);
      const c = await completeLine(int8, prefix, { ngrams: { cache, params: DEFAULT_NGRAM_PARAMS } });
      assert.ok(c.text.trim().length >= 2, `a suggestion: ${JSON.stringify(c.text)}`);
    } finally {
      await int8.dispose();
    }
  });

  it('leaves out an indented empty line at the cursor too (a docstring or body after a Python def)', async () => {
    const rt = await runtime();
    const text =
      'import json\n\n\ndef load_json(path):\n    """Load a JSON file."""\n    with open(path) as f:\n' +
      '        return json.load(f)\n\n\ndef save_json(path, data):\n    \n';
    const cursor = text.lastIndexOf('    \n') + 4;
    const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(text);
    const skip = unfinishedLineBlocks(tokenized, text, cursor);
    assert.ok(skip.length > 0, 'the indentation is the start of an unfinished line');
    const cache = new FileNgrams(rt.config.vocab_size);
    cache.update(tokenized, 0, tokenized.blocks.length, skip);
    const int8 = await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu', precision: 'int8' });
    try {
      const c = await completeLine(int8, text.slice(0, cursor), {
        ngrams: { cache, params: DEFAULT_NGRAM_PARAMS },
        maxLines: 6,
      });
      // Counting the indented line made the cache predict its end: the suggestion was an empty line.
      assert.ok(
        !c.text.startsWith('\n') && c.text.trim().length >= 2,
        `a suggestion: ${JSON.stringify(c.text)}`,
      );
    } finally {
      await int8.dispose();
    }
  });

  it('moving the cursor to another line re-skips only those blocks, with the counts of a fresh update', async () => {
    const rt = await runtime();
    const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(PARITY);
    const { from, to } = blocksAround(tokenized, 0, 1200); // a window, as the extension counts large files
    const moved = new FileNgrams(rt.config.vocab_size);
    let skip: number[] = [];
    moved.update(tokenized, from, to, skip);
    const out = new Float32Array(rt.config.vocab_size);
    const expected = new Float32Array(rt.config.vocab_size);
    // Cursors in the middle of lines over the file, then back to the first and to a blank line (no skip).
    const lineMids = [...PARITY.matchAll(/[^\n]{12,}/g)].map((m) => m.index! + Math.floor(m[0].length / 2));
    const cursors = [...lineMids.filter((_, i) => i % 9 === 0), lineMids[0]!, PARITY.indexOf('\n\n') + 1];
    let changed = 0;
    for (const cursor of cursors) {
      const next = unfinishedLineBlocks(tokenized, PARITY, cursor);
      if (next.join() !== skip.join()) changed++;
      moved.reskip(tokenized, from, to, skip, next);
      skip = next;
      const fresh = new FileNgrams(rt.config.vocab_size);
      fresh.update(tokenized, from, to, skip);
      assert.equal(moved.tokenCount, fresh.tokenCount);
      assert.equal(moved.contextCount, fresh.contextCount);
      const context = tokenized.ids
        .slice(0, tokenized.blocks[Math.max(0, (skip[0] ?? 1) - 1)]!.firstToken)
        .slice(-MAX_CONTEXT);
      const a = moved.distribution(context, DEFAULT_NGRAM_PARAMS.beta, out);
      const b = fresh.distribution(context, DEFAULT_NGRAM_PARAMS.beta, expected);
      assert.deepEqual(a, b);
      assert.deepEqual(out, expected);
    }
    assert.ok(changed >= 5, `the skip list changed ${changed} times`);
  });

  it('a completion request leaves its unfinished line out even when the counts were made elsewhere', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    const uri = 'file:///unfinished.ts';
    const text = `${TS}\nexport function area(width: number, height: number): number {\n  return \n}\n`;
    states.opened({ uri, version: 1, getText: () => text, cursorOffset: 0 });
    await states.whenIdle(uri);
    const all = rt.tokenizer.encode(text).length;
    const prefix = text.slice(0, text.lastIndexOf('return ') + 'return '.length);
    const got = states.stateFor(uri, prefix)!;
    assert.ok(got.ngrams.tokenCount < all, `${got.ngrams.tokenCount} of ${all} tokens counted`);
    assert.equal(states.stateFor(uri, '')!.ngrams.tokenCount, all); // at a line start: nothing left out
    states.reset(uri);
    assert.equal(got.ngrams.tokenCount, 0);
    states.dispose();
  });

  it('is empty until it counts something', async () => {
    const rt = await runtime();
    const cache = new FileNgrams(rt.config.vocab_size);
    const out = new Float32Array(rt.config.vocab_size);
    assert.equal(cache.distribution([1, 2, 3], 0.5, out), undefined);
  });

  it('after edits and undo equals counting the text from scratch', async () => {
    const rt = await runtime();
    const V = rt.config.vocab_size;
    const blocks = new BlockTokenizer(rt.tokenizer);
    const incremental = new FileNgrams(V);
    const lines = PY.split('\n');
    const versions = [
      PY,
      lines.map((l, i) => (i === 20 ? l + ' # edited' : l)).join('\n'),
      lines.filter((_, i) => i < 5 || i > 9).join('\n'),
      [...lines.slice(0, 30), 'x = compute(x)', 'x = compute(x)', ...lines.slice(30)].join('\n'),
      PY, // undo back to the start
    ];
    const out = new Float32Array(V);
    const expected = new Float32Array(V);
    for (const text of versions) {
      const tokenized = blocks.tokenize(text);
      incremental.update(tokenized);
      const fresh = new FileNgrams(V);
      fresh.update(new BlockTokenizer(rt.tokenizer).tokenize(text));
      assert.equal(incremental.tokenCount, fresh.tokenCount);
      assert.equal(incremental.contextCount, fresh.contextCount);
      for (const at of [3, 50, 120, 400]) {
        const context = tokenized.ids.slice(at - MAX_CONTEXT, at);
        const match = incremental.distribution(context, 1, out);
        assert.deepEqual(match, fresh.distribution(context, 1, expected));
        assertClose(out, expected, `context at ${at}`);
      }
    }
  });

  it('after random edits, window moves and skips equals counting from scratch', async () => {
    const rt = await runtime();
    const V = rt.config.vocab_size;
    const blocks = new BlockTokenizer(rt.tokenizer);
    const incremental = new FileNgrams(V);
    let seed = 11;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const pieces = ['\n', ' x', 'return a;\n', '}\n', 'x = compute(x)\n', '  ', '\n\n'];
    let text = [TS, PY, TS].join('\n');
    const out = new Float32Array(V);
    const expected = new Float32Array(V);
    for (let step = 0; step < 40; step++) {
      const at = random(text.length + 1);
      const cut = random(4) === 0 ? random(30) : 0; // some edits delete text too
      text = text.slice(0, at) + pieces[random(pieces.length)]! + text.slice(at + cut);
      const tokenized = blocks.tokenize(text);
      const n = tokenized.blocks.length;
      const from = random(4) === 0 ? random(n) : 0;
      const to = random(4) === 0 ? from + random(n - from + 1) : n;
      let skip = random(2) === 0 ? [from + random(Math.max(1, to - from))] : [];
      incremental.update(tokenized, from, to, skip);
      if (random(3) === 0) {
        const next = [from + random(Math.max(1, to - from))];
        incremental.reskip(tokenized, from, to, skip, next);
        skip = next;
      }
      const fresh = new FileNgrams(V);
      fresh.update(new BlockTokenizer(rt.tokenizer).tokenize(text), from, to, skip);
      assert.equal(incremental.tokenCount, fresh.tokenCount, `step ${step}`);
      assert.equal(incremental.contextCount, fresh.contextCount, `step ${step}`);
      for (const where of [0.2, 0.5, 0.9]) {
        const t = Math.floor(tokenized.ids.length * where);
        const context = tokenized.ids.slice(t - MAX_CONTEXT, t);
        assert.deepEqual(incremental.distribution(context, 1, out), fresh.distribution(context, 1, expected));
        assertClose(out, expected, `step ${step}, context at ${t}`);
      }
    }
  });

  it('counts only a window of blocks around the cursor in long files', async () => {
    const rt = await runtime();
    const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(TS.repeat(4));
    const middle = Math.floor(TS.length * 2);
    const { from, to } = blocksAround(tokenized, middle, 1000);
    const blocks = tokenized.blocks.slice(from, to);
    const tokens = blocks.reduce((n, b) => n + b.ids.length, 0);
    assert.ok(tokens <= 1000 && tokens > 800, `${tokens} tokens`);
    assert.ok(blocks[0]!.start <= middle && blocks.at(-1)!.start + blocks.at(-1)!.text.length >= middle);
    assert.deepEqual(blocksAround(tokenized, middle, tokenized.ids.length), {
      from: 0,
      to: tokenized.blocks.length,
    });
    // A cursor that stays in the middle half keeps the window (no block re-keyed); one beyond it moves it.
    const near = tokenized.blocks[from + Math.floor((to - from) * 0.6)]!.start;
    assert.deepEqual(blocksAround(tokenized, near, 1000, { from, to }), { from, to });
    assert.notDeepEqual(blocksAround(tokenized, near, 1000), { from, to }, 'a centred window would move');
    const far = tokenized.blocks[to + 5]!.start;
    const moved = blocksAround(tokenized, far, 1000, { from, to });
    assert.ok(moved.from > from && moved.to > to, JSON.stringify(moved));
  });

  it('gives the cache more weight the longer and surer its match', () => {
    const w = (order: number, count: number, top: number): number =>
      cacheWeight(DEFAULT_NGRAM_PARAMS, { order, count, top });
    assert.ok(w(0, 1000, 0) < 0.1, `no context: ${w(0, 1000, 0)}`);
    assert.ok(w(MAX_CONTEXT, 3, 1) > 0.7, `a long exact repeat: ${w(MAX_CONTEXT, 3, 1)}`);
    assert.ok(w(2, 3, 1) > w(1, 3, 1) && w(2, 3, 1) > w(2, 3, 0.4));
    assert.equal(cacheWeight({ ...DEFAULT_NGRAM_PARAMS, weight: 0.3 }, { order: 7, count: 9, top: 1 }), 0.3);
  });

  it('ships the gate and back-off the evaluation suite fitted on the valid split', () => {
    const report = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'models', 'fw-code-small', 'eval', 'suite-report.json'), 'utf8'),
    ) as { mix_tuning_on_valid: Record<string, { gate: number[]; beta: number; order: number }> };
    const fitted = report.mix_tuning_on_valid['adapted_whole_file_ngram_cache']!;
    assert.deepEqual(fitted.gate, [...DEFAULT_NGRAM_PARAMS.gate]);
    assert.equal(fitted.beta, DEFAULT_NGRAM_PARAMS.beta);
    assert.equal(fitted.order, MAX_CONTEXT + 1);
  });

  it('mixes probabilities that sum to one', () => {
    const logits = Float32Array.from([2, 0, -1, 1]);
    const cache = Float32Array.from([0, 0, 1, 0]);
    const out = new Float32Array(4);
    mixWithCache(logits, 4, cache, 0.25, out);
    assert.ok(Math.abs(out.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.ok(out[2]! > 0.25 && out[0]! > out[3]!);
  });

  it('lets decoding copy a sequence the file repeats', async () => {
    const rt = await runtime();
    const line = "const zqxWvut = makeFlurbulator(42, 'plonk', zqxWvut);";
    const text = `${TS.slice(0, 1500)}\n${line}\n`;
    const cache = new FileNgrams(rt.config.vocab_size);
    cache.update(new BlockTokenizer(rt.tokenizer).tokenize(text));
    const prefix = `${text}const zqxWvut = makeF`;
    const withCache = await completeLine(rt, prefix, { ngrams: { cache, params: DEFAULT_NGRAM_PARAMS } });
    assert.equal(withCache.text, "lurbulator(42, 'plonk', zqxWvut);");
    assert.ok(Number.isFinite(withCache.meanLogProb) && withCache.meanLogProb <= 0);
    const off = await completeLine(rt, prefix, {
      ngrams: { cache, params: { ...DEFAULT_NGRAM_PARAMS, weight: 0 } },
    });
    const plain = await completeLine(rt, prefix);
    assert.equal(off.text, plain.text);
    assert.equal(off.meanLogProb, plain.meanLogProb);
  });

  it('records where decoding first copies what the model alone would not write', async () => {
    // The line is far outside the prompt (its last 512 tokens), so only the cache can copy it.
    const rt = await runtime();
    const line = "const zqxWvut = makeFlurbulator(42, 'plonk', zqxWvut);";
    const filler = `${TS}\n${PY}\n`.repeat(3);
    const text = `${line}\n${filler}`;
    assert.ok(rt.tokenizer.encode(filler).length > 600);
    const cache = new FileNgrams(rt.config.vocab_size);
    cache.update(new BlockTokenizer(rt.tokenizer).tokenize(text));
    const prefix = `${text}const zqxWvut = makeF`;
    const withCache = await completeLine(rt, prefix, { ngrams: { cache, params: DEFAULT_NGRAM_PARAMS } });
    const plain = await completeLine(rt, prefix);
    assert.equal(plain.copied, 'none');
    assert.notEqual(plain.text, withCache.text, 'the model alone does not know the made-up call');
    assert.notEqual(withCache.copied, 'none');
    assert.ok(withCache.copiedFrom >= 0 && withCache.copiedFrom < withCache.text.length);
    // Up to the first copied token the text is the model's own.
    assert.equal(withCache.text.slice(0, withCache.copiedFrom), plain.text.slice(0, withCache.copiedFrom));
    assert.notEqual(withCache.text.slice(withCache.copiedFrom), plain.text.slice(withCache.copiedFrom));
  });

  it('is built with each document state and dropped on reset', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    const uri = 'file:///ngrams.ts';
    states.opened({ uri, version: 1, getText: () => TS, cursorOffset: 0 });
    await states.whenIdle(uri);
    const got = states.stateFor(uri, TS.slice(0, TS.indexOf('\n') + 1));
    assert.ok(got);
    assert.equal(got.ngrams.tokenCount, rt.tokenizer.encode(TS).length);
    assert.ok(states.info(uri)!.bytes >= got.ngrams.byteLength);
    states.reset(uri);
    assert.equal(got.ngrams.tokenCount, 0);
    states.dispose();
    assert.ok(new DocumentState(rt).tokenCount === 0);
  });
});
