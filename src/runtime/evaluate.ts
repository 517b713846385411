/**
 * Bits per byte of code files under three states, shared by the CLI and the gain panel:
 * - static: the zero state (the unadapted model);
 * - adapted (causal): at position t the state S_t = sum_{s<t} lambda^(t-1-s) c_s, built only from the text
 *   before the predicted token (exact, position by position);
 * - adapted_whole_file: S_t plus the decayed contributions of the text after t, skipping the attention
 *   window that follows t's chunk (its hidden states see the predicted text): the editor's setting, where
 *   the whole file is known. Same rule as training/evaluate.py.
 * Bits per byte = NLL in bits of every real token of the file (bos prepended), divided by the file's UTF-8
 * byte count.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FastWeightsRuntime, log2Prob } from './runtime';
import type { SuffixIndex } from './suffixIndex';
import { mixWorkspaceBits, WorkspaceNgramParams, workspaceMatches } from './workspaceNgrams';
import { FastWeightState } from './fastWeights';
import { completeLine } from './decoder';
import { DocumentState } from './documentState';
import { BlockTokenizer } from './blockTokenizer';
import {
  causalCacheProbs,
  DEFAULT_NGRAM_PARAMS,
  FileNgrams,
  mixedBits,
  NgramCacheParams,
  unfinishedLineBlocks,
} from './fileNgrams';

export interface FileScore {
  file?: string;
  tokens: number;
  bytes: number;
  staticBits: number;
  adaptedBits?: number;
  wholeFileBits?: number;
  ms: number;
  /** Bits of each mode mixed with the file's causal n-gram cache (options.ngrams). */
  cacheBits?: { static: number; adapted?: number; wholeFile?: number };
  /**
   * Bits of the whole-file state (mixed with the file's n-gram cache when options.ngrams is set) mixed
   * with the workspace index too (options.workspace): what completions get from the repository.
   */
  workspaceBits?: number;
  /**
   * Bits of the whole-file state plus the repository state (options.repository), without n-gram caches;
   * workspaceBits then uses this state too.
   */
  repositoryBits?: number;
  /** Line-completion results (evaluateLines), when computed. */
  lines?: LineResult[];
  /** Per scored token (options.perToken): where the gain panel finds which lines adaptation helps. */
  perToken?: TokenScores;
}

/** Position i scores the file's i-th token: its UTF-8 byte length and its bits under each state. */
export interface TokenScores {
  bytes: Uint32Array;
  staticBits: Float32Array;
  adaptedBits?: Float32Array;
  wholeFileBits?: Float32Array;
}

export interface EvaluateOptions {
  /** Compute the causal adapted score (default true). */
  adapted?: boolean;
  /** Compute the whole-file adapted score (default true). */
  wholeFile?: boolean;
  /** Scheduler priority: the panel evaluates in the background. */
  priority?: 'foreground' | 'background';
  /** Called now and then with the number of positions done (for progress). */
  onProgress?: (done: number, total: number) => void;
  /** Checked between units of work; when it returns true the evaluation stops with an error. */
  isCancelled?: () => boolean;
  /** Score at most this many tokens from the start of the file (0 or unset: all). */
  maxTokens?: number;
  /**
   * 'fast_chunk': one fast_chunk.onnx call per chunk (fast); 'per_token': one head.onnx call per position
   * (needs only the three basic graphs); 'auto' (default): fast_chunk when the model folder has it.
   */
  method?: 'auto' | 'fast_chunk' | 'per_token';
  /** Also return per-token bytes and bits in `perToken` (default true: a few arrays of file length). */
  perToken?: boolean;
  /**
   * Also score each mode mixed with the file's n-gram cache (the cache of the text before each token, as in
   * training/cache_peer.py), with these weight and back-off.
   */
  ngrams?: NgramCacheParams;
  /**
   * Also score the whole-file state (with the n-gram cache, when set) mixed with the workspace index, as
   * decoding mixes it; `exclude`: the file's own span in the index, left out.
   */
  workspace?: { index: SuffixIndex; params: WorkspaceNgramParams; exclude?: { from: number; to: number } };
  /**
   * Also score the whole-file state plus `weight` times the repository's state (repositoryState.ts), made
   * from other files than this one (repositoryBits).
   */
  repository?: { state: FastWeightState; weight: number };
}

export class EvaluationCancelled extends Error {
  constructor() {
    super('evaluation cancelled');
    this.name = 'EvaluationCancelled';
  }
}

const SLICE = 256;
const ONE = new Float32Array([1]);

/** Scores one text. */
export async function evaluateText(
  rt: FastWeightsRuntime,
  text: string,
  options: EvaluateOptions = {},
): Promise<FileScore> {
  const t0 = performance.now();
  const doAdapted = options.adapted ?? true;
  const doWhole = options.wholeFile ?? true;
  const priority = options.priority ?? 'foreground';
  const cfg = rt.config;
  const V = cfg.vocab_size;
  const d = cfg.d_model;
  const lam = cfg.fwl.decay;
  let fileIds = rt.tokenizer.encode(text);
  if (options.maxTokens && options.maxTokens > 0 && fileIds.length > options.maxTokens) {
    fileIds = fileIds.slice(0, options.maxTokens);
    text = rt.tokenizer.decode(fileIds);
  }
  const ids = [cfg.bos_token_id, ...fileIds];
  const T = ids.length;
  const n = T - 1; // scored positions 0..n-1 predict ids[1..n]
  const bytes = Buffer.byteLength(text, 'utf8');
  const check = (): void => {
    if (options.isCancelled?.()) throw new EvaluationCancelled();
  };
  const unit = <R>(fn: () => Promise<R>): Promise<R> => {
    check();
    return rt.scheduler.run(priority, fn);
  };
  const result: FileScore = { tokens: n, bytes, staticBits: 0, ms: 0 };
  const keepPerToken = options.perToken ?? true;
  const per = keepPerToken || options.ngrams ? newTokenScores(rt, fileIds, doAdapted, doWhole) : undefined;
  if (per && keepPerToken) result.perToken = per;
  if (n === 0) {
    if (doAdapted) result.adaptedBits = 0;
    if (doWhole) result.wholeFileBits = 0;
    return result;
  }

  // Hidden states of the whole file, slice by slice with the KV cache carried.
  const hidden = new Float32Array(T * d);
  {
    let past = rt.emptyKv();
    for (let start = 0; start < T; start += SLICE) {
      const part = ids.slice(start, start + SLICE);
      const r = await unit(() => rt.body(part, start, past));
      hidden.set(r.hidden, start * d);
      past = rt.trimKv(r.present, rt.maxPast);
    }
  }
  const row = (t: number): Float32Array => hidden.subarray(t * d, (t + 1) * d);

  // Static: zero state, batched.
  for (let start = 0; start < n; start += SLICE) {
    const len = Math.min(SLICE, n - start);
    const logits = await unit(() =>
      rt.head(hidden.subarray(start * d, (start + len) * d), len, rt.zeroState()),
    );
    for (let i = 0; i < len; i++) {
      const bits = -log2Prob(logits, i, V, ids[start + i + 1]!);
      result.staticBits += bits;
      if (per) per.staticBits[start + i] = bits;
    }
  }
  if (!doAdapted && !doWhole) {
    if (options.ngrams && per) result.cacheBits = cacheScores(fileIds, per, options.ngrams);
    result.ms = performance.now() - t0;
    return result;
  }

  // Whole file. Positions are grouped in chunks of C = eval_chunk_tokens: [a_j, a_j + C). For t in chunk j the state
  // is S_t plus future_{j+2} * lambda^(a_{j+2} - t), where future_k = sum_{s >= a_k} lambda^(s - a_k) c_s:
  // the rest of chunk j and all of chunk j+1 are left out, because chunk j+1's hidden states attend to the
  // text being predicted. future_k comes from one batched contribution call per chunk and a suffix sum.
  const C = Math.max(1, cfg.eval_chunk_tokens);
  const starts: number[] = [];
  for (let a = 0; a < n; a += C) starts.push(a);
  const future: (FastWeightState | undefined)[] = new Array(starts.length + 2).fill(undefined);
  if (doWhole) {
    for (let j = starts.length - 1; j >= 2; j--) {
      const a = starts[j]!;
      const b = Math.min(a + C, n);
      const weights = new Float32Array(b - a);
      for (let i = 0; i < weights.length; i++) weights[i] = Math.pow(lam, i);
      const back = await unit(() =>
        rt.contribution(hidden.subarray(a * d, b * d), ids.slice(a + 1, b + 1), weights),
      );
      const next = future[j + 1];
      future[j] = next ? back.clone().addScaled(next, Math.pow(lam, b - a)) : back.clone();
    }
  }

  const repo = options.repository;
  const repoBits = doWhole && repo ? new Float32Array(n) : undefined;
  const L = rt.newState();
  let adaptedBits = 0;
  let wholeBits = 0;
  const method = options.method ?? 'auto';
  if (method === 'fast_chunk' || (method === 'auto' && rt.hasFastChunk)) {
    // Chunk by chunk with fast_chunk.onnx (exact inside the chunk); L is the state at the chunk start.
    for (let j = 0; j < starts.length; j++) {
      const a = starts[j]!;
      const b = Math.min(a + C, n);
      const len = b - a;
      if (j >= 1) future[j + 1] = undefined; // no longer needed
      const h = hidden.subarray(a * d, b * d);
      const targets = ids.slice(a + 1, b + 1);
      const ones = new Float32Array(len).fill(1);
      const past = new Float32Array(len);
      for (let i = 0; i < len; i++) past[i] = Math.pow(lam, i);
      const f = doWhole ? future[j + 2] : undefined;
      let causalBits = 0;
      if (doAdapted || (doWhole && !f)) {
        const logits = await unit(() => rt.fastChunk(h, targets, ones, [L], past));
        for (let i = 0; i < len; i++) {
          const bits = -log2Prob(logits, i, V, targets[i]!);
          causalBits += bits;
          if (per?.adaptedBits) per.adaptedBits[a + i] = bits;
          if (per?.wholeFileBits && !f) per.wholeFileBits[a + i] = bits;
        }
        if (doAdapted) adaptedBits += causalBits;
      }
      if (doWhole) {
        if (f) {
          // The causal state plus the future state two chunks on.
          const coef = new Float32Array(2 * len);
          coef.set(past, 0);
          for (let i = 0; i < len; i++) coef[len + i] = Math.pow(lam, starts[j + 2]! - (a + i));
          const logits = await unit(() => rt.fastChunk(h, targets, ones, [L, f], coef));
          for (let i = 0; i < len; i++) {
            const bits = -log2Prob(logits, i, V, targets[i]!);
            wholeBits += bits;
            if (per?.wholeFileBits) per.wholeFileBits[a + i] = bits;
          }
        } else {
          wholeBits += causalBits; // no chunk two on: the whole-file state is the causal one
        }
        if (repoBits) {
          // The same state plus the repository's, with a constant weight.
          const states = f ? [L, f, repo!.state] : [L, repo!.state];
          const coef = new Float32Array(states.length * len);
          coef.set(past, 0);
          if (f) for (let i = 0; i < len; i++) coef[len + i] = Math.pow(lam, starts[j + 2]! - (a + i));
          coef.fill(repo!.weight, (states.length - 1) * len);
          const logits = await unit(() => rt.fastChunk(h, targets, ones, states, coef));
          for (let i = 0; i < len; i++) repoBits[a + i] = -log2Prob(logits, i, V, targets[i]!);
        }
      }
      if (j + 1 < starts.length) {
        const w = new Float32Array(len);
        for (let i = 0; i < len; i++) w[i] = Math.pow(lam, len - 1 - i);
        const c = await unit(() => rt.contribution(h, targets, w));
        L.axpby(Math.pow(lam, len), c, 1);
      }
      options.onProgress?.(b, n);
    }
  } else {
    // Position by position with head.onnx: the causal S_t is exact (S_{t+1} = lambda S_t + c_t).
    const W = rt.newState();
    for (let t = 0; t < n; t++) {
      const j = Math.floor(t / C);
      if (t % C === 0 && j >= 1) future[j + 1] = undefined; // no longer needed
      const target = ids[t + 1]!;
      const h = row(t);
      const needC = t + 1 < n;
      const [la, lw, ct] = await unit(async () => {
        const la = doAdapted ? await rt.head(h, 1, L) : undefined;
        let lw: Float32Array | undefined;
        if (doWhole) {
          const f = future[j + 2];
          if (f) {
            W.sumScaled(L, 1, f, Math.pow(lam, starts[j + 2]! - t));
            lw = await rt.head(h, 1, W);
          } else {
            lw = doAdapted ? la : await rt.head(h, 1, L);
          }
          if (repoBits) {
            if (f) W.addScaled(repo!.state, repo!.weight);
            else W.sumScaled(L, 1, repo!.state, repo!.weight);
            repoBits[t] = -log2Prob(await rt.head(h, 1, W), 0, V, target);
          }
        }
        const ct = needC ? await rt.contribution(h, [target], ONE) : undefined;
        return [la, lw, ct] as const;
      });
      const aBits = la ? -log2Prob(la, 0, V, target) : 0;
      const wBits = lw === la ? aBits : lw ? -log2Prob(lw, 0, V, target) : 0;
      adaptedBits += aBits;
      wholeBits += wBits;
      if (per?.adaptedBits) per.adaptedBits[t] = aBits;
      if (per?.wholeFileBits) per.wholeFileBits[t] = wBits;
      if (ct) L.axpby(lam, ct, 1);
      if (options.onProgress && t % 64 === 0) options.onProgress(t + 1, n);
    }
  }
  options.onProgress?.(n, n);
  if (doAdapted) result.adaptedBits = adaptedBits;
  if (doWhole) result.wholeFileBits = wholeBits;
  if (options.ngrams && per) result.cacheBits = cacheScores(fileIds, per, options.ngrams);
  if (repoBits) result.repositoryBits = repoBits.reduce((a, b) => a + b, 0);
  if (options.workspace && per?.wholeFileBits) {
    const bits = repoBits ?? per.wholeFileBits;
    result.workspaceBits = workspaceScore(fileIds, bits, options.ngrams, options.workspace);
  }
  result.ms = performance.now() - t0;
  return result;
}

/** The whole-file bits (mixed with the causal n-gram cache when `ngrams` is set), mixed with the workspace. */
function workspaceScore(
  fileIds: readonly number[],
  wholeFileBits: Float32Array,
  ngrams: NgramCacheParams | undefined,
  workspace: NonNullable<EvaluateOptions['workspace']>,
): number {
  let bits: Float32Array = wholeFileBits;
  if (ngrams) {
    const { p, weight } = causalCacheProbs(fileIds, ngrams);
    bits = wholeFileBits.map((b, j) => mixedBits(b, p[j]!, weight[j]!, j === 0));
  }
  const { index, params, exclude } = workspace;
  return mixWorkspaceBits(bits, workspaceMatches(index, fileIds, params.maxLength, exclude), params);
}

/** The per-token bits of each mode, mixed with the causal n-gram cache, summed. */
function cacheScores(
  fileIds: readonly number[],
  per: TokenScores,
  params: NgramCacheParams,
): NonNullable<FileScore['cacheBits']> {
  const { p, weight } = causalCacheProbs(fileIds, params);
  const sum = (bits: Float32Array): number => {
    let s = 0;
    for (let j = 0; j < bits.length; j++) s += mixedBits(bits[j]!, p[j]!, weight[j]!, j === 0);
    return s;
  };
  const out: NonNullable<FileScore['cacheBits']> = { static: sum(per.staticBits) };
  if (per.adaptedBits) out.adapted = sum(per.adaptedBits);
  if (per.wholeFileBits) out.wholeFile = sum(per.wholeFileBits);
  return out;
}

function newTokenScores(
  rt: FastWeightsRuntime,
  fileIds: readonly number[],
  adapted: boolean,
  wholeFile: boolean,
): TokenScores {
  const n = fileIds.length;
  const scores: TokenScores = {
    bytes: Uint32Array.from(fileIds, (id) => rt.tokenizer.tokenBytes(id).length),
    staticBits: new Float32Array(n),
  };
  if (adapted) scores.adaptedBits = new Float32Array(n);
  if (wholeFile) scores.wholeFileBits = new Float32Array(n);
  return scores;
}

export interface EvaluationSummary {
  files: number;
  tokens: number;
  bytes: number;
  static: ModeSummary;
  adapted: ModeSummary;
  adapted_whole_file: ModeSummary;
  /**
   * Each mode mixed with the file's n-gram cache (when scored with options.ngrams); line metrics of the
   * whole-file state plus the cache when lines were evaluated.
   */
  ngram_cache?: Partial<ModeSummary>;
  adapted_ngram_cache?: Partial<ModeSummary>;
  adapted_whole_file_ngram_cache?: Partial<ModeSummary>;
  /**
   * With a workspace (fastweights eval --workspace): the whole-file state plus the repository state, with
   * the file cache and the workspace index (adapted_workspace) and without them (fwl_workspace).
   */
  adapted_workspace?: Partial<ModeSummary>;
  fwl_workspace?: Partial<ModeSummary>;
  gain: { bits_per_byte_pct: number; whole_file_bits_per_byte_pct: number };
  /** Line completion: number of targets and how they were drawn (when lines were evaluated). */
  lines?: { targets: number; per_file: number; seed: number };
  model: string;
  provider: string;
  seconds: number;
  per_file?: {
    file: string;
    tokens: number;
    bytes: number;
    static_bits_per_byte: number;
    adapted_bits_per_byte: number;
    adapted_whole_file_bits_per_byte: number;
    ngram_cache_bits_per_byte?: number;
    adapted_ngram_cache_bits_per_byte?: number;
    adapted_whole_file_ngram_cache_bits_per_byte?: number;
  }[];
}

/** Bits per byte of one state; line metrics (percent, 0-100) when lines were evaluated. */
export interface ModeSummary {
  bits_per_byte: number;
  line_exact_match?: number;
  line_edit_similarity?: number;
}

export function summarise(rt: FastWeightsRuntime, scores: FileScore[], perFile = false): EvaluationSummary {
  const tokens = scores.reduce((a, s) => a + s.tokens, 0);
  const bytes = scores.reduce((a, s) => a + s.bytes, 0);
  const bpb = (bits: number): number => (bytes > 0 ? bits / bytes : 0);
  const st = bpb(scores.reduce((a, s) => a + s.staticBits, 0));
  const ad = bpb(scores.reduce((a, s) => a + (s.adaptedBits ?? 0), 0));
  const wf = bpb(scores.reduce((a, s) => a + (s.wholeFileBits ?? 0), 0));
  const pct = (x: number): number => (st > 0 ? ((st - x) / st) * 100 : 0);
  const summary: EvaluationSummary = {
    files: scores.length,
    tokens,
    bytes,
    static: { bits_per_byte: st },
    adapted: { bits_per_byte: ad },
    adapted_whole_file: { bits_per_byte: wf },
    gain: { bits_per_byte_pct: pct(ad), whole_file_bits_per_byte_pct: pct(wf) },
    model: rt.config.name,
    provider: rt.info.provider,
    seconds: scores.reduce((a, s) => a + s.ms, 0) / 1000,
  };
  if (scores.length > 0 && scores.every((s) => s.cacheBits !== undefined)) {
    const total = (f: (c: NonNullable<FileScore['cacheBits']>) => number | undefined): number =>
      bpb(scores.reduce((a, s) => a + (f(s.cacheBits!) ?? 0), 0));
    summary.ngram_cache = { bits_per_byte: total((c) => c.static) };
    if (scores.every((s) => s.cacheBits!.adapted !== undefined))
      summary.adapted_ngram_cache = { bits_per_byte: total((c) => c.adapted) };
    if (scores.every((s) => s.cacheBits!.wholeFile !== undefined))
      summary.adapted_whole_file_ngram_cache = { bits_per_byte: total((c) => c.wholeFile) };
  }
  if (scores.length > 0 && scores.every((s) => s.workspaceBits !== undefined)) {
    summary.adapted_workspace = { bits_per_byte: bpb(scores.reduce((a, s) => a + s.workspaceBits!, 0)) };
  }
  if (scores.length > 0 && scores.every((s) => s.repositoryBits !== undefined)) {
    summary.fwl_workspace = { bits_per_byte: bpb(scores.reduce((a, s) => a + s.repositoryBits!, 0)) };
  }
  const lines = scores.flatMap((s) => s.lines ?? []);
  if (scores.some((s) => s.lines !== undefined)) {
    const modes: Partial<Record<LineMode, Omit<ModeSummary, 'bits_per_byte'>>> = {
      static: summary.static,
      adapted: summary.adapted,
      adapted_whole_file: summary.adapted_whole_file,
    };
    if (lines.some((l) => l.adapted_whole_file_ngram_cache !== undefined)) {
      modes.adapted_whole_file_ngram_cache = summary.adapted_whole_file_ngram_cache ??= {};
    }
    if (lines.some((l) => l.adapted_workspace !== undefined)) {
      modes.adapted_workspace = summary.adapted_workspace ??= {};
      modes.fwl_workspace = summary.fwl_workspace ??= {};
    }
    for (const [mode, target] of Object.entries(modes) as [LineMode, Omit<ModeSummary, 'bits_per_byte'>][]) {
      const rows = lines.filter((l) => l[mode] !== undefined);
      const mean = (f: (o: LineOutcome) => number): number =>
        rows.length ? rows.reduce((a, l) => a + f(l[mode]!), 0) / rows.length : 0;
      target.line_exact_match = mean((o) => (o.exact ? 100 : 0));
      target.line_edit_similarity = mean((o) => o.editSimilarity);
    }
    summary.lines = { targets: lines.length, per_file: lineOptionsUsed.perFile, seed: lineOptionsUsed.seed };
  }
  if (perFile) {
    summary.per_file = scores.map((s) => ({
      file: s.file ?? '',
      tokens: s.tokens,
      bytes: s.bytes,
      static_bits_per_byte: s.bytes ? s.staticBits / s.bytes : 0,
      adapted_bits_per_byte: s.bytes ? (s.adaptedBits ?? 0) / s.bytes : 0,
      adapted_whole_file_bits_per_byte: s.bytes ? (s.wholeFileBits ?? 0) / s.bytes : 0,
      ...(s.cacheBits && s.bytes
        ? {
            ngram_cache_bits_per_byte: s.cacheBits.static / s.bytes,
            adapted_ngram_cache_bits_per_byte: (s.cacheBits.adapted ?? 0) / s.bytes,
            adapted_whole_file_ngram_cache_bits_per_byte: (s.cacheBits.wholeFile ?? 0) / s.bytes,
          }
        : {}),
    }));
  }
  return summary;
}

export const CODE_EXTENSIONS = new Set(['.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs', '.mts', '.cts', '.py']);

/** Code files under the given paths (folders recursively, skipping node_modules and dot folders), sorted. */
export function collectCodeFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) {
        if (name === 'node_modules' || name.startsWith('.')) continue;
        walk(path.join(p, name));
      }
    } else if (st.isFile() && CODE_EXTENSIONS.has(path.extname(p).toLowerCase())) {
      out.push(p);
    }
  };
  for (const p of paths) {
    if (!fs.existsSync(p)) throw new Error(`No such file or folder: ${p}`);
    const st = fs.statSync(p);
    if (st.isFile())
      out.push(p); // an explicitly named file counts whatever its extension
    else walk(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Line completion (CodeXGLUE convention): from the cursor to the end of the line, greedy decoding with the
// runtime's decoder; exact match = the whitespace-split tokens are equal, edit similarity = Levenshtein ratio
// x 100 (substitutions cost 2, as fuzzywuzzy's ratio), both on the stripped strings. Targets are drawn by the
// same rule as training/line_completion.py (so both pick the same cursors):
// - a line is non-trivial when its stripped text has at least 8 characters, one a letter or digit;
// - cursor candidates: after the indentation, at the end of a run of letters where the next character is
//   neither a letter nor a digit (a pre-token boundary of the byte-level BPE), with at least 4 non-space
//   characters left on the line;
// - per file, mulberry32 seeded with fnv1a32(UTF-8 text) XOR seed draws distinct lines, then one cursor each.
// Offsets count Unicode code points (as Python does). States: static = zero; causal and whole file come from a
// DocumentState built on the document with the rest of the target line removed (what the editor holds before the
// line is typed), queried at the cursor like the extension does.

export type LineMode =
  | 'static'
  | 'adapted'
  | 'adapted_whole_file'
  | 'adapted_whole_file_ngram_cache'
  | 'adapted_workspace'
  | 'fwl_workspace';

export interface LineOutcome {
  prediction: string;
  exact: boolean;
  editSimilarity: number;
}

export interface LineResult {
  /** Cursor offset in code points. */
  offset: number;
  truth: string;
  static: LineOutcome;
  adapted?: LineOutcome;
  adapted_whole_file?: LineOutcome;
  /** The whole-file state with the file's n-gram cache mixed in (as the extension completes). */
  adapted_whole_file_ngram_cache?: LineOutcome;
  /** Everything the extension uses with a workspace: file and repository states, file cache, index. */
  adapted_workspace?: LineOutcome;
  /** The file's state plus the repository state, no n-gram caches. */
  fwl_workspace?: LineOutcome;
}

export interface LineOptions {
  /** Targets per file (default 1). */
  perFile?: number;
  /** Seed mixed into each file's generator (default 0). */
  seed?: number;
  /** Also decode with the causal state (default true). */
  causal?: boolean;
  /** Also decode with the whole-file state plus the file's n-gram cache (default true). */
  fileCache?: boolean;
  /**
   * Also decode with the workspace (adapted_workspace, fwl_workspace): its index, the file's own span in it
   * left out, and the repository state with its weight.
   */
  workspace?: {
    index: SuffixIndex;
    params: WorkspaceNgramParams;
    exclude?: { from: number; to: number };
    repository?: { state: FastWeightState; weight: number };
  };
  priority?: 'foreground' | 'background';
}

/** What the last evaluateLines call used (reported by summarise). */
const lineOptionsUsed = { perFile: 1, seed: 0 };

const MIN_LINE_CHARS = 8;
const MIN_REST_CHARS = 4;
const LETTER = /^\p{L}$/u;
const ALNUM = /^[\p{L}\p{Nd}]$/u;
const SPACE = /^\s$/u;

export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cursor candidates per non-trivial line, as code-point offsets. */
export function lineCandidates(cps: readonly string[]): number[][] {
  const out: number[][] = [];
  let start = 0;
  while (start <= cps.length) {
    let nl = cps.indexOf('\n', start);
    if (nl < 0) nl = cps.length;
    let end = nl;
    if (end > start && cps[end - 1] === '\r') end--;
    const body = cps.slice(start, end);
    let lo = 0;
    while (lo < body.length && SPACE.test(body[lo]!)) lo++;
    let hi = body.length;
    while (hi > lo && SPACE.test(body[hi - 1]!)) hi--;
    const stripped = body.slice(lo, hi);
    if (stripped.length >= MIN_LINE_CHARS && stripped.some((c) => ALNUM.test(c))) {
      const cursors: number[] = [];
      let restNonSpace = 0; // non-space characters from i to the end of the line
      const rest: number[] = new Array<number>(body.length + 1).fill(0);
      for (let i = body.length - 1; i >= 0; i--) {
        if (!SPACE.test(body[i]!)) restNonSpace++;
        rest[i] = restNonSpace;
      }
      for (let i = lo + 1; i < body.length; i++) {
        if (LETTER.test(body[i - 1]!) && !ALNUM.test(body[i]!) && rest[i]! >= MIN_REST_CHARS) {
          cursors.push(start + i);
        }
      }
      if (cursors.length) out.push(cursors);
    }
    start = nl + 1;
  }
  return out;
}

/** Cursor offsets (code points) of `count` targets in a file, sorted. */
export function sampleLineTargets(text: string, count: number, seed = 0): number[] {
  const cps = Array.from(text);
  const cands = lineCandidates(cps);
  const rng = mulberry32((fnv1a32(Buffer.from(text, 'utf8')) ^ seed) >>> 0);
  const chosen: number[] = [];
  const used = new Set<number>();
  for (let n = 0; n < Math.min(count, cands.length); n++) {
    let k = Math.floor(rng() * cands.length);
    while (used.has(k)) k = (k + 1) % cands.length;
    used.add(k);
    const cursors = cands[k]!;
    chosen.push(cursors[Math.floor(rng() * cursors.length)]!);
  }
  return chosen.sort((a, b) => a - b);
}

function indelDistance(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const ca of a) {
    const cur = [0];
    for (let j = 1; j <= b.length; j++) {
      cur.push(ca === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!));
    }
    prev = cur;
  }
  return a.length + b.length - 2 * prev[b.length]!;
}

/** Levenshtein ratio x 100 with substitutions costing 2 (fuzzywuzzy's ratio), on the stripped strings. */
export function editSimilarity(prediction: string, truth: string): number {
  const a = Array.from(prediction.trim());
  const b = Array.from(truth.trim());
  const total = a.length + b.length;
  return total === 0 ? 100 : (100 * (total - indelDistance(a, b))) / total;
}

export function lineExactMatch(prediction: string, truth: string): boolean {
  const p = prediction.split(/\s+/u).filter(Boolean);
  const t = truth.split(/\s+/u).filter(Boolean);
  return p.length === t.length && p.every((w, i) => w === t[i]);
}

/** Completes each sampled target line of `text` with the static, causal and whole-file states. */
export async function evaluateLines(
  rt: FastWeightsRuntime,
  text: string,
  options: LineOptions = {},
): Promise<LineResult[]> {
  const perFile = options.perFile ?? 1;
  const seed = options.seed ?? 0;
  lineOptionsUsed.perFile = perFile;
  lineOptionsUsed.seed = seed;
  const priority = options.priority ?? 'foreground';
  const cps = Array.from(text);
  const results: LineResult[] = [];
  for (const cursor of sampleLineTargets(text, perFile, seed)) {
    let end = cps.indexOf('\n', cursor);
    if (end < 0) end = cps.length;
    if (end > cursor && cps[end - 1] === '\r') end--;
    const prefix = cps.slice(0, cursor).join('');
    const truth = cps.slice(cursor, end).join('');
    const masked = prefix + cps.slice(end).join('');
    const ws = options.workspace;
    const outcome = async (
      state?: FastWeightState,
      ngrams?: FileNgrams,
      withIndex = false,
    ): Promise<LineOutcome> => {
      const c = await completeLine(rt, prefix, {
        priority,
        ...(state ? { state } : {}),
        ...(ngrams ? { ngrams: { cache: ngrams, params: DEFAULT_NGRAM_PARAMS } } : {}),
        ...(withIndex && ws
          ? {
              workspace: {
                index: ws.index,
                params: ws.params,
                ...(ws.exclude ? { exclude: ws.exclude } : {}),
              },
            }
          : {}),
      });
      return {
        prediction: c.text,
        exact: lineExactMatch(c.text, truth),
        editSimilarity: editSimilarity(c.text, truth),
      };
    };
    const row: LineResult = { offset: cursor, truth, static: await outcome() };
    const doc = new DocumentState(rt);
    await doc.rebuild(masked, { priority });
    const t = doc.positionForPrefix(prefix);
    if (options.causal ?? true) row.adapted = await outcome(doc.stateAt(t, 'causal'));
    row.adapted_whole_file = await outcome(doc.stateAt(t, 'whole_file'));
    const ngrams = new FileNgrams(rt.config.vocab_size);
    if ((options.fileCache ?? true) || ws) {
      const tokenized = new BlockTokenizer(rt.tokenizer).tokenize(masked);
      const skip = unfinishedLineBlocks(tokenized, masked, prefix.length);
      ngrams.update(tokenized, 0, tokenized.blocks.length, skip);
    }
    if (options.fileCache ?? true) {
      row.adapted_whole_file_ngram_cache = await outcome(doc.stateAt(t, 'whole_file'), ngrams);
    }
    if (ws) {
      const state = doc.stateAt(t, 'whole_file').clone();
      if (ws.repository) state.addScaled(ws.repository.state, ws.repository.weight);
      row.fwl_workspace = await outcome(state);
      row.adapted_workspace = await outcome(state, ngrams, true);
    }
    results.push(row);
  }
  return results;
}
