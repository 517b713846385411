/**
 * The fast-weight state of one open document: built from the whole text in chunks (in the background, in
 * short scheduler units), queried at the cursor. No editor API here: the extension maps documents to these.
 */
import { FileFastWeights, ChunkContribution, FastWeightState, StateMode } from './fastWeights';
import { FastWeightsRuntime } from './runtime';
import { Priority } from './scheduler';

export interface BuildOptions {
  /** Contributing positions per chunk (default 256). */
  chunkTokens?: number;
  priority?: Priority;
  isCancelled?: () => boolean;
  /** Tokens of the document used at most (default 32768; longer files use their first part). */
  maxTokens?: number;
}

export class BuildCancelled extends Error {
  constructor() {
    super('state build cancelled');
    this.name = 'BuildCancelled';
  }
}

/** Sum of a chunk list seen from a cursor chunk, cached until the chunks change. */
interface CursorCache {
  chunk: number;
  mode: StateMode;
  /** Left part as seen from the first position of the cursor chunk. */
  left: FastWeightState;
  /** Right part as seen from the last position of the cursor chunk. */
  right: FastWeightState;
  first: number;
  last: number;
}

export class DocumentState {
  private readonly file: FileFastWeights;
  private chunks: ChunkContribution[] = [];
  private cursorCache: CursorCache | undefined;
  /** Text the current state was built from. */
  builtText: string | undefined;
  builtAt = 0;
  buildMs = 0;

  constructor(private readonly rt: FastWeightsRuntime) {
    this.file = new FileFastWeights(rt.config);
  }

  /** Number of token positions the state was built from (0 after a reset). */
  get tokenCount(): number {
    return this.file.tokenCount;
  }

  get byteLength(): number {
    const c = this.cursorCache;
    return this.file.byteLength + (c ? c.left.byteLength + c.right.byteLength : 0);
  }

  reset(): void {
    this.chunks = [];
    this.file.reset();
    this.cursorCache = undefined;
    this.builtText = undefined;
  }

  /** Rebuilds the state from `text`. The previous state stays usable until the new one is complete. */
  async rebuild(text: string, options: BuildOptions = {}): Promise<void> {
    const rt = this.rt;
    const t0 = performance.now();
    const cfg = rt.config;
    const d = cfg.d_model;
    const lam = cfg.fwl.decay;
    const chunkTokens = options.chunkTokens ?? 256;
    const priority = options.priority ?? 'background';
    const maxTokens = options.maxTokens ?? 32768;
    const check = (): void => {
      if (options.isCancelled?.()) throw new BuildCancelled();
    };
    const unit = <R>(fn: () => Promise<R>): Promise<R> => {
      check();
      return rt.scheduler.run(priority, async () => {
        check();
        return fn();
      });
    };
    let fileIds = rt.tokenizer.encode(text);
    if (fileIds.length > maxTokens) fileIds = fileIds.slice(0, maxTokens);
    const ids = [cfg.bos_token_id, ...fileIds];
    const n = ids.length - 1; // positions 0..n-1 have targets
    const chunks: ChunkContribution[] = [];
    let past = rt.emptyKv();
    const SLICE = chunkTokens;
    // Hidden states slice by slice; each finished chunk's contributions right away (bounded memory).
    const hidden = new Float32Array(ids.length * d);
    // Body runs in short units (a completion waits for at most one of them).
    const BODY_SLICE = Math.min(128, SLICE);
    for (let start = 0; start < ids.length; start += SLICE) {
      const part = ids.slice(start, start + SLICE);
      for (let s = 0; s < part.length; s += BODY_SLICE) {
        const sub = part.slice(s, s + BODY_SLICE);
        const r = await unit(() => rt.body(sub, start + s, past));
        hidden.set(r.hidden, (start + s) * d);
        past = rt.trimKv(r.present, rt.maxPast);
      }
      const first = start;
      const last = Math.min(start + part.length, n) - 1;
      if (last < first) continue;
      const len = last - first + 1;
      const rows = hidden.subarray(first * d, (last + 1) * d);
      const targets = ids.slice(first + 1, last + 2);
      const wEnd = new Float32Array(len);
      const wStart = new Float32Array(len);
      for (let j = 0; j < len; j++) {
        wEnd[j] = Math.pow(lam, len - 1 - j);
        wStart[j] = Math.pow(lam, j);
      }
      const fromEnd = await unit(() => rt.contribution(rows, targets, wEnd));
      const fromStart = await unit(() => rt.contribution(rows, targets, wStart));
      chunks.push({ first, last, tokens: len, fromEnd, fromStart });
    }
    check();
    this.chunks = chunks;
    this.file.setChunks(chunks);
    this.cursorCache = undefined;
    this.builtText = text;
    this.builtAt = Date.now();
    this.buildMs = performance.now() - t0;
  }

  /** Token position of the cursor: the position whose prediction is the first token after `prefix`. */
  positionForPrefix(prefix: string): number {
    // Counting the tokens of the prefix alone matches the file's tokens up to the cursor except at a token
    // that straddles the cursor, which is close enough for choosing decay weights.
    return this.rt.tokenizer.encode(prefix).length; // bos is position 0, so the last prefix token sits here
  }

  /**
   * The state at token position t (default: whole-file weighting; chunks are the unit, the chunk holding t
   * is left out and its neighbours are weighted by their distance to t).
   */
  stateAt(t: number, mode: StateMode = 'whole_file'): FastWeightState {
    if (this.chunks.length === 0) return this.rt.zeroState();
    const lam = this.rt.config.fwl.decay;
    let idx = this.chunks.findIndex((c) => t >= c.first && t <= c.last);
    if (idx < 0) idx = t < this.chunks[0]!.first ? -1 : this.chunks.length; // before all / after all
    let cache = this.cursorCache;
    if (!cache || cache.chunk !== idx || cache.mode !== mode) {
      const first = idx >= 0 && idx < this.chunks.length ? this.chunks[idx]!.first : t;
      const last = idx >= 0 && idx < this.chunks.length ? this.chunks[idx]!.last : t;
      const left = this.file.stateAt(first, 'causal').clone();
      const right = this.rt.newState();
      if (mode === 'whole_file') {
        for (let j = Math.max(0, idx + 1); j < this.chunks.length; j++) {
          const c = this.chunks[j]!;
          const w = Math.pow(lam, c.first - last - 1);
          if (w >= 1e-6) right.addScaled(c.fromStart, w);
        }
      }
      cache = { chunk: idx, mode, left, right, first, last };
      this.cursorCache = cache;
    }
    const wl = Math.pow(lam, Math.max(0, t - cache.first));
    const wr = Math.pow(lam, Math.max(0, cache.last - t));
    return this.rt.newState().sumScaled(cache.left, wl, cache.right, wr);
  }
}
