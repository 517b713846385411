/**
 * Keys and values of the tokens of recent prompts, so that the next request feeds the body only the tokens it
 * has not seen. The cache is a "tape": token ids at consecutive absolute positions (`base` + index) with their
 * keys and values. A new prompt reuses the tape when it starts at the tape's start (typing on) or when its
 * start lies inside the tape (the long-prompt cut moved forward): in that case the reused keys saw more left
 * context than a fresh prefill would, which is the file's real context, so nothing is lost.
 */
import type { FastWeightsRuntime, KvCache } from './runtime';

/** Shortest run of equal tokens that aligns a prompt inside the tape (shorter runs match by chance). */
const MIN_ALIGNED_RUN = 16;

/** Prompt tokens at a cut that may be tokenized differently from the same text on the tape. */
const MAX_SKIPPED_TOKENS = 3;

export class PromptCache {
  /** Token ids of the tape. */
  ids: number[] = [];
  kv: KvCache | undefined;
  /** Absolute position of ids[0]. */
  base = 0;
  hits = 0;
  misses = 0;

  clear(): void {
    this.ids = [];
    this.kv = undefined;
    this.base = 0;
  }
}

/** Where a prompt continues the tape: tape index `resumeAt` holds prompt token `shared`. */
export interface TapeMatch {
  /** Prompt tokens already on the tape (0: none). */
  shared: number;
  /** Tape index right after the shared run. */
  resumeAt: number;
}

/** Length of the common run of `a` from `i` and `b` from `j`, at most `limit`. */
function runLength(a: readonly number[], i: number, b: readonly number[], j: number, limit: number): number {
  let n = 0;
  while (n < limit && i + n < a.length && j + n < b.length && a[i + n] === b[j + n]) n++;
  return n;
}

/**
 * The longest reuse of the tape for `ids`: the prompt from token `shared` on continues the tape at index
 * `resumeAt`. Either the prompt starts like the tape (typing on), or its start lies inside the tape (the
 * long-prompt cut moved forward). In the second case the first few prompt tokens may be tokenized differently
 * from the same text on the tape (a cut splits whitespace that the tape merged), so up to
 * MAX_SKIPPED_TOKENS of them may be covered by the tape instead. At least one prompt token is always fed.
 */
export function matchTape(tape: readonly number[], ids: readonly number[]): TapeMatch {
  const limit = ids.length - 1;
  if (tape.length === 0 || limit <= 0) return { shared: 0, resumeAt: 0 };
  const atStart = runLength(tape, 0, ids, 0, limit);
  let best: TapeMatch = { shared: atStart, resumeAt: atStart };
  if (atStart >= Math.min(limit, MIN_ALIGNED_RUN)) return best;
  for (let skip = 0; skip <= MAX_SKIPPED_TOKENS && skip < limit; skip++) {
    const first = ids[skip];
    for (let k = 1; k < tape.length; k++) {
      if (tape[k] !== first) continue;
      const n = runLength(tape, k, ids, skip, limit - skip);
      if (n >= MIN_ALIGNED_RUN && skip + n > best.shared) best = { shared: skip + n, resumeAt: k + n };
    }
  }
  return best;
}

/**
 * Puts a prompt's freshly computed keys and values on the tape after the reused part, and keeps the tape at
 * most `maxTokens` long by dropping its oldest entries.
 */
export function extendTape(
  rt: FastWeightsRuntime,
  cache: PromptCache,
  match: TapeMatch,
  ids: readonly number[],
  fresh: KvCache,
  maxTokens: number,
): void {
  const kept = match.shared > 0 && cache.kv ? rt.sliceKv(cache.kv, 0, match.resumeAt) : undefined;
  let kv = kept ? rt.concatKv(kept, fresh) : fresh;
  let tape = [...(kept ? cache.ids.slice(0, match.resumeAt) : []), ...ids.slice(match.shared)];
  let base = kept ? cache.base : 0;
  if (tape.length > maxTokens) {
    const drop = tape.length - maxTokens;
    kv = rt.trimKv(kv, maxTokens);
    tape = tape.slice(drop);
    base += drop;
  }
  cache.ids = tape;
  cache.kv = kv;
  cache.base = base;
  if (match.shared > 0) cache.hits++;
  else cache.misses++;
}
