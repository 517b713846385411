import * as assert from 'node:assert/strict';
import { completeLine, DocumentState, preparePrompt, PromptCache } from '../../src/runtime';
import { runtime } from './helpers';

const SNIPPET = `export interface Point {
  x: number;
  y: number;
}

export function add(a: Point, b: Point): Point {
  return { x: a.x + b.x, y: a.y + b.y };
}

export function sub(a: Point, b: Point): Point {
  return `;

describe('line completion (real model)', () => {
  it('completes a small TypeScript snippet with one non-empty line', async () => {
    const rt = await runtime();
    const c = await completeLine(rt, SNIPPET, { maxTokens: 32 });
    assert.ok(c.text.trim().length > 0, `empty completion (stop: ${c.stop}, tokens: ${c.tokens})`);
    assert.ok(!/[\r\n]/.test(c.text), 'a completion is a single line');
    assert.ok(c.tokens >= 1 && c.tokens <= 32);
    assert.ok(['newline', 'eos', 'max_tokens'].includes(c.stop));
    assert.ok(c.prefillMs > 0 && c.totalMs >= c.prefillMs);
    console.log(
      `      completion: ${JSON.stringify(c.text)} (${c.tokens} tokens, prefill ${c.prefillMs.toFixed(0)} ms, ` +
        `total ${c.totalMs.toFixed(0)} ms, ${((c.totalMs - c.prefillMs) / Math.max(1, c.tokens)).toFixed(1)} ms/token)`,
    );
  });

  it('is deterministic (greedy)', async () => {
    const rt = await runtime();
    const a = await completeLine(rt, SNIPPET, { maxTokens: 16 });
    const b = await completeLine(rt, SNIPPET, { maxTokens: 16 });
    assert.equal(a.text, b.text);
  });

  it('takes the state as a function, summed once when the request runs, with the same suggestion', async () => {
    const rt = await runtime();
    const doc = new DocumentState(rt);
    await doc.rebuild(SNIPPET.repeat(3), { priority: 'background' });
    const given = doc.stateAt(doc.tokenCount - 40);
    const eager = await completeLine(rt, SNIPPET, { maxTokens: 16, state: given });
    let calls = 0;
    const lazy = await completeLine(rt, SNIPPET, {
      maxTokens: 16,
      state: () => {
        calls++;
        return given;
      },
    });
    assert.equal(calls, 1);
    assert.equal(lazy.text, eager.text);
    assert.equal(lazy.meanLogProb, eager.meanLogProb);
    const zero = await completeLine(rt, SNIPPET, { maxTokens: 16 });
    assert.notEqual(eager.meanLogProb, zero.meanLogProb, 'the state changes the model');
    doc.reset();
  });

  it('respects the token budget', async () => {
    const rt = await runtime();
    const c = await completeLine(rt, SNIPPET, { maxTokens: 2 });
    assert.ok(c.tokens <= 2);
  });

  it('stops when cancelled', async () => {
    const rt = await runtime();
    const c = await completeLine(rt, SNIPPET, { isCancelled: () => true });
    assert.equal(c.cancelled, true);
    assert.equal(c.text, '');
  });

  it('heals a word cut by the cursor: the suggestion continues the word', async () => {
    const rt = await runtime();
    const prefix = 'export function sub(a: Point, b: Point): Point {\n  ret';
    const p = preparePrompt(rt, prefix, 512, true);
    assert.ok(p.healBytes.length > 0, 'the last token "ret" is taken back');
    const c = await completeLine(rt, prefix, { maxTokens: 8 });
    assert.ok(!/[\r\n]/.test(c.text));
    // Whatever the model says, the text is what comes AFTER "ret" (never a repeated "ret").
    assert.ok(!c.text.startsWith('ret'), JSON.stringify(c.text));
  });

  it('takes back the whole word typed so far when the tokenizer split it, never across a line or a dot', async () => {
    const rt = await runtime();
    const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
    const body = 'export function add(a: Point, b: Point): Point {\n';
    // "  retu" is tokenized "\n " + " ret" + "u": both word pieces are taken back.
    const word = preparePrompt(rt, body + '  retu', 512, true);
    assert.equal(text(word.healBytes), ' retu');
    const c = await completeLine(rt, body + '  retu', { maxTokens: 8 });
    assert.ok(c.text.startsWith('rn'), `"retu" goes on as "return", got ${JSON.stringify(c.text)}`);
    // After a dot only the word after it is taken back, and a line break is never crossed.
    const member = preparePrompt(rt, body + '  console.lo', 512, true);
    assert.ok(!text(member.healBytes).includes('.'), JSON.stringify(text(member.healBytes)));
    assert.ok(text(member.healBytes).length > 0);
    const blank = preparePrompt(rt, body + 'x', 512, true);
    assert.ok(!text(blank.healBytes).includes('\n'), JSON.stringify(text(blank.healBytes)));
  });

  it("after a line's indentation, suggests the line's code, not more indentation", async () => {
    const rt = await runtime();
    const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
    const ts =
      'export function add(a: Point, b: Point): Point {\n  return { x: a.x + b.x, y: a.y + b.y };\n}\n\n' +
      'export function sub(a: Point, b: Point): Point {\n  ';
    const py = 'def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    ';
    for (const prefix of [ts, py]) {
      // The indentation is taken back; the line that follows is tokenized "\n " + " return" (the last space
      // goes with the word), so the first token re-types only part of it.
      assert.match(text(preparePrompt(rt, prefix, 512, true).healBytes), /^\n +$/);
      const c = await completeLine(rt, prefix, { maxTokens: 6 });
      assert.ok(c.text.startsWith('return'), JSON.stringify(c.text));
    }
  });

  it('never cuts an unsure suggestion inside the word it re-types (no typed text repeated)', async () => {
    const rt = await runtime();
    const body = 'const STATICS = {\n  childContextTypes: true,\n';
    for (const typed of ['  calle', '  retu', '  chil']) {
      // Every new token is unsure at 0.99: the suggestion ends right after the re-typed word.
      const c = await completeLine(rt, body + typed, { maxTokens: 8, minTokenProb: 0.99 });
      const word = typed.trim();
      assert.ok(
        !/^\s/.test(c.text) && !c.text.startsWith(word.slice(0, 3)),
        `${typed} -> ${JSON.stringify(c.text)}`,
      );
    }
  });

  it("reports the probability of the suggestion's lead, conditioned on the word typed so far", async () => {
    const rt = await runtime();
    const prefix = 'export function add(a: Point, b: Point): Point {\n  return';
    // Without healing, one token: its lead is the token itself.
    const one = await completeLine(rt, prefix, { maxTokens: 1, tokenHealing: false });
    assert.ok(one.tokens === 1 && one.leadLogProb <= 0);
    assert.ok(Math.abs(one.leadLogProb - one.meanLogProb) < 1e-9);
    // Longer: the lead is the first tokens only, so at least as probable as the whole suggestion.
    const long = await completeLine(rt, prefix, { maxTokens: 16, tokenHealing: false });
    assert.ok(long.leadLogProb >= long.meanLogProb * long.tokens - 1e-9);
    // "retu" re-typed as " return" is near certain given what was typed, whatever else " " could start.
    const healed = await completeLine(rt, prefix.slice(0, -2), { maxTokens: 1 });
    assert.equal(healed.text, 'rn');
    assert.ok(Math.exp(healed.leadLogProb) > 0.9, `lead ${Math.exp(healed.leadLogProb)}`);
    assert.ok(healed.leadLogProb > healed.meanLogProb, 'the condition on the typed word raises it');
  });

  it('reuses the previous prompt from the prompt cache with the same result', async () => {
    const rt = await runtime();
    const cache = new PromptCache();
    const first = await completeLine(rt, SNIPPET, { maxTokens: 8, promptCache: cache });
    assert.equal(first.cachedPromptTokens, 0);
    const typed = SNIPPET + '{ x: a.x - b.x, y: ';
    const cached = await completeLine(rt, typed, { maxTokens: 8, promptCache: cache });
    const fresh = await completeLine(rt, typed, { maxTokens: 8 });
    assert.ok(cached.cachedPromptTokens > 10, `cached ${cached.cachedPromptTokens} tokens`);
    assert.equal(cached.text, fresh.text);
    assert.equal(cache.hits, 1);
    // A long file whose prompt start is cut: typing on keeps the cut, so the cache still applies.
    const long = 'export const values = [1, 2, 3];\n'.repeat(300) + SNIPPET;
    await completeLine(rt, long, { maxTokens: 4, promptCache: cache, maxPromptTokens: 256 });
    const longer = await completeLine(rt, long + 'a', {
      maxTokens: 4,
      promptCache: cache,
      maxPromptTokens: 256,
    });
    assert.ok(longer.cachedPromptTokens > 100, `cached ${longer.cachedPromptTokens} tokens`);
  });

  it('prepends bos at the file start and cuts long prompts at a line start', async () => {
    const rt = await runtime();
    const short = preparePrompt(rt, 'const x = ', 512, false);
    assert.equal(short.ids[0], rt.config.bos_token_id);
    const long = 'const value = 1;\n'.repeat(2000) + 'const y = ';
    const p = preparePrompt(rt, long, 300, false);
    assert.ok(p.ids.length <= 600, `${p.ids.length} tokens`); // soft budget, hard cap at twice it
    assert.notEqual(p.ids[0], rt.config.bos_token_id);
  });
});
