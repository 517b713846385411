import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SuffixIndex, suffixArray } from '../../src/runtime/suffixIndex';
import { ROOT, runtime, seededRandom } from './helpers';

const random = seededRandom;

/** Suffix start positions sorted by comparing the suffixes token by token (a shorter prefix first). */
function bruteSuffixArray(s: ArrayLike<number>): number[] {
  const n = s.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    for (let i = 0; a + i < n && b + i < n; i++) if (s[a + i] !== s[b + i]) return s[a + i]! - s[b + i]!;
    return n - a - (n - b);
  });
  return order;
}

/**
 * The longest suffix of `context` (1 to maxLength tokens) followed somewhere in `docs` by a token, and its
 * counts; length 0 when none is (no unigram fallback: the model's own distribution stands).
 */
function bruteNext(
  docs: number[][],
  context: number[],
  maxLength: number,
): { length: number; counts: Map<number, number> } {
  for (let len = Math.min(maxLength, context.length); len >= 1; len--) {
    const pattern = context.slice(context.length - len);
    const counts = new Map<number, number>();
    for (const d of docs) {
      for (let i = 0; i + len < d.length; i++) {
        if (pattern.every((t, j) => d[i + j] === t))
          counts.set(d[i + len]!, (counts.get(d[i + len]!) ?? 0) + 1);
      }
    }
    if (counts.size > 0) return { length: len, counts };
  }
  return { length: 0, counts: new Map() };
}

describe('suffix index (workspace n-grams)', () => {
  it('sorts the suffixes as comparing them one by one does: random and repetitive texts', () => {
    const rnd = random(7);
    for (const [n, alphabet, repeat] of [
      [1, 3, 0],
      [50, 2, 0],
      [300, 5, 0],
      [400, 3, 40], // long repeats: many doubling rounds
      [257, 60000, 0],
    ] as const) {
      const s = new Uint16Array(n);
      for (let i = 0; i < n; i++)
        s[i] = repeat && i >= repeat ? s[i - repeat]! : Math.floor(rnd() * alphabet);
      assert.deepEqual([...suffixArray(s)], bruteSuffixArray(s), `n ${n}, alphabet ${alphabet}`);
    }
  });

  it('finds what followed the longest matching context, never across documents', () => {
    const rnd = random(11);
    const docs = Array.from({ length: 6 }, () =>
      Array.from({ length: 80 + Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 6)),
    );
    const index = SuffixIndex.build(docs);
    for (let trial = 0; trial < 200; trial++) {
      const d = docs[Math.floor(rnd() * docs.length)]!;
      const at = Math.floor(rnd() * d.length);
      // Contexts from the text, and some with a random last token that may occur nowhere after it.
      const context = d.slice(Math.max(0, at - 20), at);
      if (trial % 3 === 0) context.push(Math.floor(rnd() * 7));
      const got = index.next(context, 12);
      const want = bruteNext(docs, context, 12);
      assert.equal(got.length, want.length, `context ${context.join(',')}`);
      assert.deepEqual(new Map([...got.counts].sort()), new Map([...want.counts].sort()));
      assert.equal(
        got.total,
        [...want.counts.values()].reduce((a, b) => a + b, 0),
      );
    }
    // The last tokens of one document are followed by nothing, though the next document follows them.
    const tail = SuffixIndex.build([
      [1, 2, 3],
      [9, 9],
    ]);
    assert.deepEqual(tail.next([1, 2, 3]), { length: 0, total: 0, counts: new Map() }, 'nothing after 3');
    assert.equal(tail.next([2]).counts.get(3), 1);
  });

  it("leaves a document's own occurrences out when asked (a file scored against the rest of its workspace)", () => {
    const rnd = random(5);
    const docs = Array.from({ length: 4 }, () => Array.from({ length: 120 }, () => Math.floor(rnd() * 5)));
    const index = SuffixIndex.build(docs);
    for (let k = 0; k < docs.length; k++) {
      const others = docs.filter((_, i) => i !== k);
      for (let trial = 0; trial < 40; trial++) {
        const at = 1 + Math.floor(rnd() * (docs[k]!.length - 1));
        const context = docs[k]!.slice(Math.max(0, at - 16), at);
        const got = index.next(context, 16, 1024, index.documentSpan(k));
        const want = bruteNext(others, context, 16);
        assert.equal(got.length, want.length);
        assert.deepEqual(new Map([...got.counts].sort()), new Map([...want.counts].sort()));
      }
    }
  });

  it('samples the counts of a frequent context, with its total scaled to every occurrence', () => {
    const doc = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? 1 : 2 + ((i >> 1) % 2)));
    const index = SuffixIndex.build([doc]);
    const r = index.next([1], 1, 100);
    assert.equal(r.length, 1);
    assert.ok(Math.abs(r.total - 2500) <= 25, `total ${r.total}`);
    const sampled = [...r.counts.values()].reduce((a, b) => a + b, 0);
    assert.ok(sampled <= 100 && r.counts.size === 2, `counts ${JSON.stringify([...r.counts])}`);
  });

  it('indexes real code in 6 bytes per token, and the file predicts its own repeated code', async () => {
    const rt = await runtime();
    const text = fs.readFileSync(path.join(ROOT, 'test', 'unit', 'fixtures', 'sample.ts'), 'utf8');
    const ids = rt.tokenizer.encode(text);
    const index = SuffixIndex.build([ids]);
    assert.equal(index.byteLength, 6 * (ids.length + 1));
    // A context taken from the file continues as the file does at one of its occurrences.
    const at = Math.floor(ids.length / 2);
    const r = index.next(ids.slice(0, at));
    assert.ok(r.length >= 8, `match of ${r.length} tokens`);
    assert.ok(r.counts.has(ids[at]!));
    assert.throws(() => SuffixIndex.build([[0xffff]]), /out of range/);
  });
});
