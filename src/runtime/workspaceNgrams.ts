/**
 * The workspace's n-grams as a predictor beside the model (issue 24): at each token, what followed the
 * longest suffix of the text before it that occurs elsewhere in the workspace (SuffixIndex), mixed in with
 * a weight that a gate gives from how long and how sure that match is, the same form as the file cache's
 * (fileNgrams.ts). Scoring here is per token from bits already computed, so one model pass serves every
 * gate tried while fitting it.
 */
import type { NextTokens, SuffixIndex } from './suffixIndex';

export interface WorkspaceNgramParams {
  /**
   * Logistic gate over the match: [bias, per token of match length (capped at maxLength), per log of its
   * occurrences, per share of its most frequent next token].
   */
  gate: readonly number[];
  /** Longest match looked for, in tokens. */
  maxLength: number;
}

/**
 * Fitted on the valid split (39 files of 10 packages, the int8 graphs, on top of the file's state and
 * cache) by `npm run bench:workspace`, 2026-12-07; the search starts from here and prints what it finds.
 */
export const DEFAULT_WORKSPACE_PARAMS: WorkspaceNgramParams = {
  gate: [-4.25, 0.225, 0.075, 2],
  maxLength: 32,
};

export function workspaceWeight(
  params: WorkspaceNgramParams,
  length: number,
  total: number,
  top: number,
): number {
  if (length === 0 || total === 0) return 0;
  const g = params.gate;
  const z = g[0]! + g[1]! * Math.min(length, params.maxLength) + g[2]! * Math.log1p(total) + g[3]! * top;
  return 1 / (1 + Math.exp(-z));
}

/** The counts' sample size and the share of its most frequent token (the gate's "top"). */
export function sampleOf(found: NextTokens): { sampled: number; top: number } {
  let sampled = 0;
  let best = 0;
  for (const c of found.counts.values()) {
    sampled += c;
    best = Math.max(best, c);
  }
  return { sampled, top: sampled > 0 ? best / sampled : 0 };
}

/** What the workspace predicted before each token of a file: its probability of the true token and the match. */
export interface WorkspaceTokenMatches {
  /** Probability the match gave the token that came (0 when it never followed there). */
  p: Float64Array;
  length: Uint8Array;
  total: Float64Array;
  top: Float64Array;
}

/**
 * Looks up every token of `ids` (a file) in `index`, leaving out the span `exclude` (the file itself when
 * the index holds it), with the context of the `maxLength` tokens before it.
 */
export function workspaceMatches(
  index: SuffixIndex,
  ids: readonly number[],
  maxLength: number,
  exclude?: { from: number; to: number },
): WorkspaceTokenMatches {
  const n = ids.length;
  const out: WorkspaceTokenMatches = {
    p: new Float64Array(n),
    length: new Uint8Array(n),
    total: new Float64Array(n),
    top: new Float64Array(n),
  };
  for (let j = 1; j < n; j++) {
    const context = ids.slice(Math.max(0, j - maxLength), j);
    const r = index.next(context, maxLength, 256, exclude);
    const { sampled, top } = sampleOf(r);
    if (r.length === 0 || sampled === 0) continue;
    out.p[j] = (r.counts.get(ids[j]!) ?? 0) / sampled;
    out.length[j] = r.length;
    out.total[j] = r.total;
    out.top[j] = top;
  }
  return out;
}

/** Bits of each token under (1 - w) p_before + w p_workspace, where p_before = 2^-bits (already mixed or not). */
export function mixWorkspaceBits(
  bits: Float32Array | Float64Array,
  m: WorkspaceTokenMatches,
  params: WorkspaceNgramParams,
): number {
  let sum = 0;
  for (let j = 0; j < bits.length; j++) {
    const w = workspaceWeight(params, m.length[j]!, m.total[j]!, m.top[j]!);
    sum += w === 0 ? bits[j]! : -Math.log2((1 - w) * Math.pow(2, -bits[j]!) + w * m.p[j]!);
  }
  return sum;
}
