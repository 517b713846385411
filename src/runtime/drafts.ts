/**
 * Draft tokens for speculative decoding from the file itself ("prompt lookup decoding").
 *
 * Why: a decoding step costs one body run and one head run however few tokens they see, and code repeats
 * itself (a name declared above, a call pattern, the other half of `a.x + b.x`). So the tokens that followed
 * the most recent earlier occurrence of the last few tokens are a cheap, often right guess of what comes
 * next. The decoder feeds the guesses to the body together with the token just chosen, scores every row in
 * one head run and keeps the longest prefix that greedy decoding would have chosen anyway: the text is the
 * same, a right guess saves whole steps and a wrong one costs a somewhat wider run.
 *
 * Drafts come from the token sequence itself (the prompt and what was generated so far) and, where that
 * finds nothing, from the file's n-gram cache, which also knows the text after the cursor.
 */
import { FileNgrams, MAX_CONTEXT } from './fileNgrams';

/** Longest and shortest suffix, in tokens, that lookupDraft tries to find earlier in the sequence. */
export const DRAFT_MAX_MATCH = 4;
export const DRAFT_MIN_MATCH = 2;

/**
 * Up to `maxDraft` tokens that followed the most recent earlier occurrence of the longest suffix of `tokens`
 * (between `maxMatch` and `minMatch` tokens long) that occurs earlier; empty when none does.
 */
export function lookupDraft(
  tokens: readonly number[],
  maxDraft: number,
  maxMatch = DRAFT_MAX_MATCH,
  minMatch = DRAFT_MIN_MATCH,
): number[] {
  const n = tokens.length;
  if (maxDraft <= 0) return [];
  for (let len = Math.min(maxMatch, n - 1); len >= Math.max(1, minMatch); len--) {
    // Occurrences ending at `end` (exclusive), before the suffix itself, most recent first.
    for (let end = n - 1; end >= len; end--) {
      let k = 1;
      while (k <= len && tokens[end - k] === tokens[n - k]) k++;
      if (k > len) return tokens.slice(end, Math.min(n, end + maxDraft));
    }
  }
  return [];
}

/**
 * Up to `maxDraft` tokens of the n-gram cache's most likely continuation of `context` (most recent last), as
 * long as the cache has seen at least `minOrder` tokens of context before each. `scratch` (length vocab)
 * receives the cache's distributions.
 */
export function cacheDraft(
  cache: FileNgrams,
  context: readonly number[],
  beta: number,
  maxDraft: number,
  scratch: Float32Array,
  minOrder = DRAFT_MIN_MATCH,
): number[] {
  const out: number[] = [];
  const ctx = context.slice(-MAX_CONTEXT);
  while (out.length < maxDraft) {
    const match = cache.distribution(ctx, beta, scratch);
    if (!match || match.order < minOrder) break;
    let best = 0;
    for (let i = 1; i < scratch.length; i++) if (scratch[i]! > scratch[best]!) best = i;
    out.push(best);
    ctx.push(best);
    if (ctx.length > MAX_CONTEXT) ctx.shift();
  }
  return out;
}
