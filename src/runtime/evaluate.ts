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
import { FastWeightState } from './fastWeights';

export interface FileScore {
  file?: string;
  tokens: number;
  bytes: number;
  staticBits: number;
  adaptedBits?: number;
  wholeFileBits?: number;
  ms: number;
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
    for (let i = 0; i < len; i++) result.staticBits -= log2Prob(logits, i, V, ids[start + i + 1]!);
  }
  if (!doAdapted && !doWhole) {
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
        for (let i = 0; i < len; i++) causalBits -= log2Prob(logits, i, V, targets[i]!);
        if (doAdapted) adaptedBits += causalBits;
      }
      if (doWhole) {
        if (f) {
          // The causal state plus the future state two chunks on.
          const coef = new Float32Array(2 * len);
          coef.set(past, 0);
          for (let i = 0; i < len; i++) coef[len + i] = Math.pow(lam, starts[j + 2]! - (a + i));
          const logits = await unit(() => rt.fastChunk(h, targets, ones, [L, f], coef));
          for (let i = 0; i < len; i++) wholeBits -= log2Prob(logits, i, V, targets[i]!);
        } else {
          wholeBits += causalBits; // no chunk two on: the whole-file state is the causal one
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
        }
        const ct = needC ? await rt.contribution(h, [target], ONE) : undefined;
        return [la, lw, ct] as const;
      });
      if (la) adaptedBits -= log2Prob(la, 0, V, target);
      if (lw) wholeBits -= log2Prob(lw, 0, V, target);
      if (ct) L.axpby(lam, ct, 1);
      if (options.onProgress && t % 64 === 0) options.onProgress(t + 1, n);
    }
  }
  options.onProgress?.(n, n);
  if (doAdapted) result.adaptedBits = adaptedBits;
  if (doWhole) result.wholeFileBits = wholeBits;
  result.ms = performance.now() - t0;
  return result;
}

export interface EvaluationSummary {
  files: number;
  tokens: number;
  bytes: number;
  static: { bits_per_byte: number };
  adapted: { bits_per_byte: number };
  adapted_whole_file: { bits_per_byte: number };
  gain: { bits_per_byte_pct: number; whole_file_bits_per_byte_pct: number };
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
  }[];
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
  if (perFile) {
    summary.per_file = scores.map((s) => ({
      file: s.file ?? '',
      tokens: s.tokens,
      bytes: s.bytes,
      static_bits_per_byte: s.bytes ? s.staticBits / s.bytes : 0,
      adapted_bits_per_byte: s.bytes ? (s.adaptedBits ?? 0) / s.bytes : 0,
      adapted_whole_file_bits_per_byte: s.bytes ? (s.wholeFileBits ?? 0) / s.bytes : 0,
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
