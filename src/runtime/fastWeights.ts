/**
 * Fast-weight state: the six tensors the head graph adds (scaled by its step sizes) to the FWL block's slow
 * weights, and the per-file state built from chunk contributions.
 *
 * State rule (exp_decay): the state used at position t is S_t = sum_{s<t} lambda^(t-1-s) c_s, where c_s is
 * position s's contribution (its target is token s+1). A chunk whose last contributing position is e is
 * computed once with weights lambda^(e-s) -> C_end; seen from a position t > e it counts as
 * lambda^(t-1-e) * C_end. Seen from a position t before the chunk's first position b, the same chunk counts
 * through C_start (weights lambda^(s-b)) scaled by the distance. States add; the zero state is the static model.
 */
import { ModelConfig, STATE_TENSOR_NAMES, StateTensorName } from './model';
import { sumScaled as simdSumScaled } from './simd/rows';

export type StateTensors = Record<StateTensorName, Float32Array>;

export class FastWeightState {
  private constructor(
    readonly tensors: StateTensors,
    readonly shapes: Record<StateTensorName, readonly number[]>,
  ) {}

  static zeros(shapes: Record<StateTensorName, readonly number[]>): FastWeightState {
    const tensors = {} as StateTensors;
    for (const name of STATE_TENSOR_NAMES) {
      tensors[name] = new Float32Array(shapes[name]!.reduce((a, b) => a * b, 1));
    }
    return new FastWeightState(tensors, shapes);
  }

  static forModel(config: ModelConfig): FastWeightState {
    return FastWeightState.zeros(config.state_tensors);
  }

  /** Wraps existing arrays (e.g. the contribution graph's outputs) without copying. */
  static fromTensors(
    tensors: StateTensors,
    shapes: Record<StateTensorName, readonly number[]>,
  ): FastWeightState {
    return new FastWeightState(tensors, shapes);
  }

  clone(): FastWeightState {
    const tensors = {} as StateTensors;
    for (const name of STATE_TENSOR_NAMES) tensors[name] = this.tensors[name].slice();
    return new FastWeightState(tensors, this.shapes);
  }

  /** this = this * a */
  scale(a: number): this {
    for (const name of STATE_TENSOR_NAMES) {
      const x = this.tensors[name];
      for (let i = 0; i < x.length; i++) x[i]! *= a;
    }
    return this;
  }

  /** this = this + a * other */
  addScaled(other: FastWeightState, a: number): this {
    if (a === 0) return this;
    for (const name of STATE_TENSOR_NAMES) {
      const x = this.tensors[name];
      const y = other.tensors[name];
      for (let i = 0; i < x.length; i++) x[i]! += a * y[i]!;
    }
    return this;
  }

  /** this = a * this + b * other, in one pass. */
  axpby(a: number, other: FastWeightState, b: number): this {
    for (const name of STATE_TENSOR_NAMES) {
      const x = this.tensors[name];
      const y = other.tensors[name];
      for (let i = 0; i < x.length; i++) x[i] = a * x[i]! + b * y[i]!;
    }
    return this;
  }

  /** this = a * x + b * y (overwrites this). */
  sumScaled(x: FastWeightState, a: number, y: FastWeightState, b: number): this {
    for (const name of STATE_TENSOR_NAMES) {
      const out = this.tensors[name];
      const xs = x.tensors[name];
      simdSumScaled(out, xs, a, y.tensors[name], b);
    }
    return this;
  }

  setZero(): this {
    for (const name of STATE_TENSOR_NAMES) this.tensors[name].fill(0);
    return this;
  }

  copyFrom(other: FastWeightState): this {
    for (const name of STATE_TENSOR_NAMES) this.tensors[name].set(other.tensors[name]);
    return this;
  }

  isZero(): boolean {
    for (const name of STATE_TENSOR_NAMES) {
      const x = this.tensors[name];
      for (let i = 0; i < x.length; i++) if (x[i] !== 0) return false;
    }
    return true;
  }

  /** Euclidean norm over all tensors (diagnostics). */
  norm(): number {
    let s = 0;
    for (const name of STATE_TENSOR_NAMES) {
      const x = this.tensors[name];
      for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    }
    return Math.sqrt(s);
  }

  get byteLength(): number {
    let n = 0;
    for (const name of STATE_TENSOR_NAMES) n += this.tensors[name].byteLength;
    return n;
  }
}

/** One chunk of a file, with its contribution seen from after its end and from before its start. */
export interface ChunkContribution {
  /** First and last contributing token positions (inclusive; positions count the leading bos as 0). */
  first: number;
  last: number;
  /** Number of positions with a target in this chunk. */
  tokens: number;
  /** sum_s lambda^(last - s) c_s */
  fromEnd: FastWeightState;
  /** sum_s lambda^(s - first) c_s */
  fromStart: FastWeightState;
}

export type StateMode = 'causal' | 'whole_file';

/**
 * The per-file state: a list of chunk contributions, combined for a query position by decay-weighted
 * sums. Chunks whose weight falls under `negligible` are skipped.
 */
export class FileFastWeights {
  private chunks: ChunkContribution[] = [];
  private cache: { key: string; state: FastWeightState } | undefined;

  constructor(
    private readonly config: ModelConfig,
    private readonly negligible = 1e-6,
  ) {}

  get decay(): number {
    return this.config.fwl.decay;
  }

  /** Number of token positions whose contributions the state holds. */
  get tokenCount(): number {
    return this.chunks.reduce((n, c) => n + c.tokens, 0);
  }

  get chunkCount(): number {
    return this.chunks.length;
  }

  get byteLength(): number {
    return this.chunks.reduce((n, c) => n + c.fromEnd.byteLength + c.fromStart.byteLength, 0);
  }

  /** Replaces all chunks (e.g. after a rebuild of the document). */
  setChunks(chunks: ChunkContribution[]): void {
    this.chunks = chunks.slice().sort((a, b) => a.first - b.first);
    this.cache = undefined;
  }

  addChunk(chunk: ChunkContribution): void {
    this.chunks.push(chunk);
    this.chunks.sort((a, b) => a.first - b.first);
    this.cache = undefined;
  }

  reset(): void {
    this.chunks = [];
    this.cache = undefined;
  }

  /**
   * The state for predicting the token after position `t`.
   * 'causal': chunks ending before t, weighted lambda^(t-1-last).
   * 'whole_file': also chunks starting after t, weighted lambda^(first-t-1) (the chunk holding t is left out
   * in both modes when it straddles t: its positions before t count causally only if the chunk ends before t).
   */
  stateAt(t: number, mode: StateMode = 'whole_file'): FastWeightState {
    const key = `${t}:${mode}`;
    if (this.cache?.key === key) return this.cache.state;
    const lam = this.decay;
    const out = FastWeightState.forModel(this.config);
    for (const c of this.chunks) {
      if (c.last < t) {
        const w = Math.pow(lam, t - 1 - c.last);
        if (w >= this.negligible) out.addScaled(c.fromEnd, w);
      } else if (mode === 'whole_file' && c.first > t) {
        const w = Math.pow(lam, c.first - t - 1);
        if (w >= this.negligible) out.addScaled(c.fromStart, w);
      }
    }
    this.cache = { key, state: out };
    return out;
  }
}
