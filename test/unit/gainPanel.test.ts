import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_NGRAM_PARAMS, evaluateText, TokenScores } from '../../src/runtime';
import { SuffixIndex } from '../../src/runtime/suffixIndex';
import { DEFAULT_WORKSPACE_PARAMS } from '../../src/runtime/workspaceNgrams';
import { lineBlocks, lineEndBytes, pickBlockSize } from '../../src/panel/blocks';
import { parsePageMessage } from '../../src/panel/messages';
import { panelHtml } from '../../src/panel/html';
import type { CompletionStatsSource } from '../../src/panel/statsSource';
import { Throttle } from '../../src/panel/throttle';
import { CompletionStats } from '../../src/completion/stats';
import { modelDir, runtime } from './helpers';

const close = (a: number, b: number, tol = 1e-3): boolean =>
  Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('gain panel: blocks of lines', () => {
  it('finds line ends in UTF-8 bytes', () => {
    assert.deepEqual(lineEndBytes('ab\nc\n'), [3, 5, 5]);
    assert.deepEqual(lineEndBytes('é\nx'), [3, 4]);
  });

  it('picks a round block size that keeps the chart within its block count', () => {
    assert.equal(pickBlockSize(30, 40), 1);
    assert.equal(pickBlockSize(41, 40), 2);
    assert.equal(pickBlockSize(1000, 40), 25);
    assert.equal(pickBlockSize(1001, 40), 50);
  });

  it('puts each token on the line of its last byte and sums bits per block', () => {
    // Lines: "a = 1\n" (6 bytes), "b\n" (2), "c" (1). Tokens: "a = 1" | "\nb" | "\n" | "c".
    const text = 'a = 1\nb\nc';
    const scores: TokenScores = {
      bytes: Uint32Array.from([5, 2, 1, 1]),
      staticBits: Float32Array.from([10, 4, 2, 3]),
      adaptedBits: Float32Array.from([5, 4, 1, 3]),
      wholeFileBits: Float32Array.from([4, 4, 1, 3]),
    };
    const { linesPerBlock, blocks } = lineBlocks(text, scores, 40);
    assert.equal(linesPerBlock, 1);
    assert.deepEqual(
      blocks.map((b) => [b.startLine, b.endLine, b.tokens, b.bytes]),
      [
        [0, 0, 1, 5],
        [1, 1, 2, 3],
        [2, 2, 1, 1],
      ],
    );
    assert.equal(blocks[0]!.staticBitsPerByte, 2);
    assert.equal(blocks[0]!.adaptedBitsPerByte, 1);
    assert.equal(blocks[0]!.gainPct, 50);
    assert.equal(blocks[1]!.staticBitsPerByte, 2);
    assert.ok(close(blocks[1]!.adaptedBitsPerByte, 5 / 3, 1e-9));
    assert.deepEqual(
      blocks.map((b) => b.bitsSaved),
      [5, 1, 0],
    );
    assert.equal(blocks[2]!.gainPct, 0);
  });

  it('groups lines when the file is long, and leaves lines past a truncated evaluation out', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line${i}`).join('\n');
    // Scores for the first 50 lines only, one token per line (its text and line break).
    const bytes = Uint32Array.from({ length: 50 }, (_, i) => `line${i}\n`.length);
    const ones = new Float32Array(50).fill(1);
    const { linesPerBlock, blocks } = lineBlocks(text, { bytes, staticBits: ones, adaptedBits: ones }, 10);
    assert.equal(linesPerBlock, 5);
    assert.equal(blocks.length, 10);
    assert.deepEqual([blocks[9]!.startLine, blocks[9]!.endLine], [45, 49]);
    assert.equal(
      blocks.reduce((a, b) => a + b.tokens, 0),
      50,
    );
  });
});

describe('gain panel: per-token scores from the evaluator', () => {
  for (const method of ['fast_chunk', 'per_token'] as const) {
    it(`add up to the file totals (${method})`, async function () {
      const rt = await runtime();
      const text = fs.readFileSync(path.join(modelDir(), 'parity_fixture.ts'), 'utf8');
      // fast_chunk: three chunks and a bit, so the whole-file score has a future term; per_token (slow, and
      // the parity tests cover its future term): just over one chunk.
      const maxTokens = (method === 'fast_chunk' ? 3 : 1) * rt.config.eval_chunk_tokens + 20;
      const s = await evaluateText(rt, text, { maxTokens, method });
      const per = s.perToken;
      assert.ok(per && per.adaptedBits && per.wholeFileBits, 'per-token scores are returned');
      assert.equal(per.bytes.length, s.tokens);
      const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);
      assert.equal(sum(per.bytes), s.bytes);
      assert.ok(close(sum(per.staticBits), s.staticBits), 'static');
      assert.ok(close(sum(per.adaptedBits), s.adaptedBits!), 'adapted');
      assert.ok(close(sum(per.wholeFileBits), s.wholeFileBits!), 'whole file');
      const blocks = lineBlocks(text, per).blocks;
      assert.ok(close(sum(blocks.map((b) => b.bytes)), s.bytes, 0));
    });
  }

  it('can be turned off', async function () {
    const rt = await runtime();
    const s = await evaluateText(rt, 'const x = 1;\n', { perToken: false });
    assert.equal(s.perToken, undefined);
  });

  it('score the repository: another file of the index helps, its own copy left out', async () => {
    const rt = await runtime();
    const defining =
      'export function settleQuarterlyVendorInvoices(invoices: Invoice[], quarter: number) {\n' +
      '  return invoices.filter((invoice) => invoice.quarter === quarter && !invoice.settled);\n}\n';
    const calling =
      'export function closeQuarter(invoices: Invoice[], quarter: number) {\n' +
      '  const open = settleQuarterlyVendorInvoices(invoices, quarter);\n  return open.length;\n}\n';
    const index = SuffixIndex.build([defining, calling].map((t) => rt.tokenizer.encode(t)));
    const params = DEFAULT_WORKSPACE_PARAMS;
    const own = index.documentSpan(1);
    const s = await evaluateText(rt, calling, {
      ngrams: DEFAULT_NGRAM_PARAMS,
      workspace: { index, params, exclude: own },
    });
    assert.ok(s.workspaceBits! < s.cacheBits!.wholeFile!, `${s.workspaceBits} < ${s.cacheBits!.wholeFile}`);
    // With its own copy in the index the file would predict itself: far fewer bits, which is why it is left out.
    const leaked = await evaluateText(rt, calling, {
      ngrams: DEFAULT_NGRAM_PARAMS,
      workspace: { index, params },
    });
    assert.ok(
      leaked.workspaceBits! < 0.5 * s.workspaceBits!,
      `${leaked.workspaceBits} vs ${s.workspaceBits}`,
    );
    const none = await evaluateText(rt, calling, { ngrams: DEFAULT_NGRAM_PARAMS });
    assert.equal(none.workspaceBits, undefined);
  });
});

describe('gain panel: messages from the page', () => {
  it('accepts the known shapes', () => {
    assert.deepEqual(parsePageMessage({ type: 'resetFile', extra: 1 }), { type: 'resetFile' });
    assert.deepEqual(parsePageMessage({ type: 'reveal', startLine: 3, endLine: 7 }), {
      type: 'reveal',
      startLine: 3,
      endLine: 7,
    });
    const headline = {
      file: 'a.ts',
      static: '1.0',
      adapted: '0.9',
      gain: '10%',
      stateTokens: '5',
      stateStatus: 'x',
    };
    assert.deepEqual(parsePageMessage({ type: 'rendered', headline }), { type: 'rendered', headline });
  });

  it('rejects anything else', () => {
    for (const bad of [
      null,
      'resetAll',
      { type: 'eval', code: '1' },
      { type: 'reveal', startLine: -1, endLine: 2 },
      { type: 'reveal', startLine: 5, endLine: 2 },
      { type: 'reveal', startLine: 1.5, endLine: 2 },
      { type: 'reveal', startLine: '1', endLine: 2 },
      { type: 'rendered', headline: { file: 'a' } },
      {
        type: 'rendered',
        headline: {
          file: 'x'.repeat(10000),
          static: '',
          adapted: '',
          gain: '',
          stateTokens: '',
          stateStatus: '',
        },
      },
    ])
      assert.equal(parsePageMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
  });
});

describe('gain panel: page and statistics', () => {
  it('has a strict Content-Security-Policy with a fresh nonce on its one script', () => {
    const html = panelHtml({ cspSource: 'vscode-resource:', script: 'gain.js', style: 'gain.css' });
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    const nonce = /script-src 'nonce-([A-Za-z0-9_-]+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 16);
    assert.equal((html.match(/<script /g) ?? []).length, 1);
    assert.ok(html.includes(`<script nonce="${nonce}" src="gain.js">`));
    assert.doesNotMatch(html, /https?:\/\//, 'nothing fetched from the network');
    assert.notEqual(
      nonce,
      /nonce-([^']+)'/.exec(panelHtml({ cspSource: 'x', script: 's', style: 'c' }))?.[1],
    );
  });

  it('reads CompletionStats through its small interface', () => {
    const stats: CompletionStatsSource = new CompletionStats();
    (stats as CompletionStats).recordShown('file:///a.ts', 12);
    assert.equal(stats.forFile('file:///a.ts').shown, 1);
    assert.equal(stats.session().latencyMs?.p50, 12);
  });
});

describe('gain panel: throttle', () => {
  it('never overlaps runs, and a request during a run leads to exactly one more', async () => {
    let running = 0;
    let runs = 0;
    let release!: () => void;
    const throttle = new Throttle(
      async () => {
        running++;
        runs++;
        assert.equal(running, 1, 'one run at a time');
        await new Promise<void>((r) => (release = r));
        running--;
      },
      1,
      5,
    );
    throttle.runNow();
    assert.equal(runs, 1);
    throttle.request();
    throttle.request();
    throttle.runNow();
    release();
    while (runs < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(throttle.busy, true);
    release();
    while (throttle.busy) await new Promise((r) => setTimeout(r, 5));
    assert.equal(runs, 2);
    throttle.dispose();
  });
});
