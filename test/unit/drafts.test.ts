import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BlockTokenizer,
  cacheDraft,
  CompleteOptions,
  completeLine,
  DEFAULT_NGRAM_PARAMS,
  FileNgrams,
  lookupDraft,
} from '../../src/runtime';
import { FIXTURES, noteSpread, ROOT, runtime } from './helpers';

const TS = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
const PY = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
const PARITY = fs.readFileSync(path.join(ROOT, 'models', 'fw-code-small', 'parity_fixture.ts'), 'utf8');

/** Prefixes ending `frac` of the way into the `n`-th line holding `marker`. */
function cut(text: string, marker: string, frac: number, n = 0): string {
  let at = -1;
  for (let i = 0; i <= n; i++) at = text.indexOf(marker, at + 1);
  assert.ok(at >= 0, marker);
  const lineStart = text.lastIndexOf('\n', at) + 1;
  const lineEnd = text.indexOf('\n', at);
  return text.slice(0, lineStart + Math.floor((lineEnd - lineStart) * frac));
}

const PREFIXES: { name: string; prefix: string; options?: CompleteOptions }[] = [
  { name: 'ts: a repeated call pattern', prefix: cut(TS, 'return { x: p.x', 0.5) },
  { name: 'ts: inside a word (healing)', prefix: cut(TS, 'return Math.sqrt', 0.4) },
  { name: 'ts: after a keyword and a space', prefix: cut(TS, 'total += distance', 0.3) },
  { name: 'ts: at a line end, three lines', prefix: cut(TS, 'perimeter()', 1), options: { maxLines: 3 } },
  { name: 'py: a return line', prefix: cut(PY, 'return sum(', 0.5) },
  { name: 'py: a method body', prefix: cut(PY, 'self.counts[key] =', 0.6) },
  { name: 'long file: an import line', prefix: cut(PARITY, 'import', 0.5, 3) },
  {
    name: 'long file: two lines',
    prefix: cut(PARITY, 'middleware', 0.5, 5),
    options: { maxLines: 2, minIndent: 2 },
  },
  { name: 'a small token budget', prefix: cut(TS, 'return { x: a.x', 0.5), options: { maxTokens: 3 } },
];

describe('draft tokens (speculative decoding)', () => {
  it('looks up the continuation of the longest suffix seen before, most recent first', () => {
    assert.deepEqual(lookupDraft([1, 2, 3, 4, 5, 1, 2], 3), [3, 4, 5]);
    assert.deepEqual(lookupDraft([1, 2, 3, 4, 5, 1, 2], 8), [3, 4, 5, 1, 2]);
    // [1, 2] occurs twice: the most recent occurrence wins.
    assert.deepEqual(lookupDraft([1, 2, 5, 1, 2, 6, 1, 2], 3), [6, 1, 2]);
    // [1, 2, 3] (3 tokens) beats the more recent [2, 3].
    assert.deepEqual(lookupDraft([7, 1, 2, 3, 9, 5, 2, 3, 8, 1, 2, 3], 3), [9, 5, 2]);
    // A repeating token continues itself.
    assert.deepEqual(lookupDraft([5, 5, 5], 4), [5]);
    // Nothing of two tokens seen before; a one-token match only when asked for.
    assert.deepEqual(lookupDraft([1, 2, 3, 4], 4), []);
    assert.deepEqual(lookupDraft([1, 2, 3, 1], 4), []);
    assert.deepEqual(lookupDraft([1, 2, 3, 1], 4, 4, 1), [2, 3, 1]);
    assert.deepEqual(lookupDraft([1, 2, 1, 2], 0), []);
    assert.deepEqual(lookupDraft([], 4), []);
    assert.deepEqual(lookupDraft([3], 4), []);
  });

  it('drafts the n-gram cache\u2019s most likely continuation while it knows enough context', async () => {
    const rt = await runtime();
    const line = "const zqxWvut = makeFlurbulator(42, 'plonk', zqxWvut);";
    const cache = new FileNgrams(rt.config.vocab_size);
    cache.update(new BlockTokenizer(rt.tokenizer).tokenize(`${TS}\n${line}\n`));
    const ids = rt.tokenizer.encode(line);
    const scratch = new Float32Array(rt.config.vocab_size);
    const draft = cacheDraft(cache, ids.slice(0, 4), DEFAULT_NGRAM_PARAMS.beta, 5, scratch);
    assert.deepEqual(draft, ids.slice(4, 9));
    assert.deepEqual(cacheDraft(cache, ids.slice(0, 4), DEFAULT_NGRAM_PARAMS.beta, 0, scratch), []);
    // A context the file never had: no draft.
    assert.deepEqual(cacheDraft(cache, [7001, 7002, 7003], DEFAULT_NGRAM_PARAMS.beta, 5, scratch), []);
    assert.deepEqual(cacheDraft(new FileNgrams(rt.config.vocab_size), ids.slice(0, 4), 1, 5, scratch), []);
  });

  for (const withCache of [false, true]) {
    it(`gives the text of plain greedy decoding${withCache ? ' with the n-gram cache' : ''}`, async () => {
      const rt = await runtime();
      let accepted = 0;
      for (const { name, prefix, options } of PREFIXES) {
        const base: CompleteOptions = { ...options };
        if (withCache) {
          // The file's cache as the extension keeps it: the whole file, so drafts can come from it too.
          const text = prefix.startsWith(PY.slice(0, 20))
            ? PY
            : prefix.startsWith(TS.slice(0, 20))
              ? TS
              : PARITY;
          const cache = new FileNgrams(rt.config.vocab_size);
          cache.update(new BlockTokenizer(rt.tokenizer).tokenize(text));
          base.ngrams = { cache, params: DEFAULT_NGRAM_PARAMS };
        }
        const plain = await completeLine(rt, prefix, { ...base, speculate: 0 });
        assert.equal(plain.verifications, 0);
        for (const speculate of [2, 8]) {
          const fast = await completeLine(rt, prefix, { ...base, speculate });
          const what = `${name}, speculate ${speculate}: ${JSON.stringify(fast.text)}`;
          assert.equal(fast.text, plain.text, what);
          assert.equal(fast.tokens, plain.tokens, what);
          assert.equal(fast.stop, plain.stop, what);
          noteSpread('drafts.mean_log_prob', Math.abs(fast.meanLogProb - plain.meanLogProb));
          assert.ok(Math.abs(fast.meanLogProb - plain.meanLogProb) < 1e-4, what);
          assert.ok(
            fast.acceptedDrafts <= fast.draftTokens && fast.draftTokens <= speculate * fast.verifications,
          );
          accepted += fast.acceptedDrafts;
        }
      }
      assert.ok(accepted > 0, 'some drafts were accepted');
    });
  }

  it('stops when cancelled between verification rounds', async () => {
    const rt = await runtime();
    let calls = 0;
    const c = await completeLine(rt, cut(TS, 'return { x: p.x', 0.5), {
      speculate: 8,
      isCancelled: () => ++calls > 4,
    });
    assert.equal(c.stop, 'cancelled');
    assert.ok(c.tokens >= 1);
  });
});
