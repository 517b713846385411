/**
 * The loaded model: config, tokenizer and the three sessions, with typed wrappers around the graphs.
 * Used by the decoder, the evaluator, the document states, the CLI and the extension.
 */
import * as ort from 'onnxruntime-node';
import { loadModelFolder, ModelConfig, ModelFolder, STATE_TENSOR_NAMES, StateTensorName } from './model';
import {
  createSessions,
  GraphOptimization,
  GraphPrecision,
  ModelSessions,
  ProviderChoice,
  ActiveProvider,
  SessionOptions,
} from './sessions';
import { CodeTokenizer } from './tokenizer';
import { FastWeightState, StateTensors } from './fastWeights';
import { CompactState } from './compactState';
import { ModelScheduler } from './scheduler';

/** Keys and values cached by the body graph: [L, 1, H, P, Dh] each, P = `length`. */
export interface KvCache {
  keys: Float32Array;
  values: Float32Array;
  length: number;
}

export interface BodyResult {
  /** [T, d] row-major. */
  hidden: Float32Array;
  present: KvCache;
}

export interface RuntimeOptions {
  modelDir: string;
  provider?: ProviderChoice;
  threads?: number;
  /** Threads of the contribution graph (state builds; see DEFAULT_CONTRIBUTION_THREADS). */
  contributionThreads?: number;
  /** Default 'fp32'; the extension asks for 'int8' (the model folder's quantized graphs, where shipped). */
  precision?: GraphPrecision;
  /** onnxruntime's graph optimisation level (see SessionOptions.graphOptimization); default 'all'. */
  graphOptimization?: GraphOptimization;
}

export interface RuntimeInfo {
  modelName: string;
  modelDir: string;
  provider: ActiveProvider;
  requested: ProviderChoice;
  precision: GraphPrecision;
  fallbackReason?: string;
  loadMs: number;
}

export class FastWeightsRuntime {
  readonly scheduler = new ModelScheduler();
  private readonly zero: FastWeightState;
  private multiWeightings: boolean | undefined;
  /** rowFetches, once known (null: the contribution graph has no int8-row outputs). */
  private rowOutputs: readonly string[] | null | undefined;

  private constructor(
    readonly model: ModelFolder,
    readonly tokenizer: CodeTokenizer,
    readonly sessions: ModelSessions,
    readonly loadMs: number,
  ) {
    this.zero = FastWeightState.forModel(model.config);
  }

  static async load(options: RuntimeOptions): Promise<FastWeightsRuntime> {
    const t0 = performance.now();
    const model = loadModelFolder(options.modelDir);
    const tokenizer = CodeTokenizer.fromFile(model.files.tokenizer);
    const sessionOptions: SessionOptions = {};
    if (options.provider) sessionOptions.provider = options.provider;
    if (options.threads !== undefined) sessionOptions.threads = options.threads;
    if (options.contributionThreads !== undefined)
      sessionOptions.contributionThreads = options.contributionThreads;
    if (options.precision) sessionOptions.precision = options.precision;
    if (options.graphOptimization) sessionOptions.graphOptimization = options.graphOptimization;
    const sessions = await createSessions(model, sessionOptions);
    return new FastWeightsRuntime(model, tokenizer, sessions, performance.now() - t0);
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  get info(): RuntimeInfo {
    const info: RuntimeInfo = {
      modelName: this.config.name,
      modelDir: this.model.dir,
      provider: this.sessions.provider,
      requested: this.sessions.requested,
      precision: this.sessions.precision,
      loadMs: this.loadMs,
    };
    if (this.sessions.fallbackReason !== undefined) info.fallbackReason = this.sessions.fallbackReason;
    return info;
  }

  zeroState(): FastWeightState {
    return this.zero;
  }

  newState(): FastWeightState {
    return FastWeightState.forModel(this.config);
  }

  emptyKv(): KvCache {
    return { keys: new Float32Array(0), values: new Float32Array(0), length: 0 };
  }

  private kvDims(length: number): number[] {
    const c = this.config;
    return [c.n_layer, 1, c.n_head, length, c.head_dim];
  }

  /** Runs the body on `ids` at absolute positions start.. with the given past (the tokens right before). */
  async body(ids: readonly number[], start: number, past: KvCache | undefined): Promise<BodyResult> {
    const T = ids.length;
    const p = past ?? this.emptyKv();
    const inputIds = BigInt64Array.from(ids, (x) => BigInt(x));
    const positions = new BigInt64Array(T);
    for (let i = 0; i < T; i++) positions[i] = BigInt(start + i);
    const feeds = {
      input_ids: new ort.Tensor('int64', inputIds, [1, T]),
      position_ids: new ort.Tensor('int64', positions, [1, T]),
      past_keys: new ort.Tensor('float32', p.keys, this.kvDims(p.length)),
      past_values: new ort.Tensor('float32', p.values, this.kvDims(p.length)),
    };
    const out = await this.sessions.body.run(feeds);
    const hidden = out['hidden']!.data as Float32Array;
    const pk = out['present_keys']!;
    const pv = out['present_values']!;
    return {
      hidden,
      present: { keys: pk.data as Float32Array, values: pv.data as Float32Array, length: pk.dims[3]! },
    };
  }

  /** Keeps the last `keep` entries of a cache (a new, compact copy). */
  trimKv(cache: KvCache, keep: number): KvCache {
    if (cache.length <= keep) return cache;
    const c = this.config;
    const rows = c.n_layer * c.n_head;
    const dh = c.head_dim;
    const keys = new Float32Array(rows * keep * dh);
    const values = new Float32Array(rows * keep * dh);
    const drop = cache.length - keep;
    for (let r = 0; r < rows; r++) {
      const src = (r * cache.length + drop) * dh;
      const dst = r * keep * dh;
      keys.set(cache.keys.subarray(src, src + keep * dh), dst);
      values.set(cache.values.subarray(src, src + keep * dh), dst);
    }
    return { keys, values, length: keep };
  }

  /** Entries [from, to) of a cache (a new, compact copy). */
  sliceKv(cache: KvCache, from: number, to: number): KvCache {
    const c = this.config;
    const rows = c.n_layer * c.n_head;
    const dh = c.head_dim;
    const len = Math.max(0, to - from);
    const keys = new Float32Array(rows * len * dh);
    const values = new Float32Array(rows * len * dh);
    for (let r = 0; r < rows; r++) {
      const src = (r * cache.length + from) * dh;
      keys.set(cache.keys.subarray(src, src + len * dh), r * len * dh);
      values.set(cache.values.subarray(src, src + len * dh), r * len * dh);
    }
    return { keys, values, length: len };
  }

  /** a followed by b along the position axis. */
  concatKv(a: KvCache, b: KvCache): KvCache {
    const c = this.config;
    const rows = c.n_layer * c.n_head;
    const dh = c.head_dim;
    const len = a.length + b.length;
    const keys = new Float32Array(rows * len * dh);
    const values = new Float32Array(rows * len * dh);
    for (let r = 0; r < rows; r++) {
      const dst = r * len * dh;
      keys.set(a.keys.subarray(r * a.length * dh, (r + 1) * a.length * dh), dst);
      values.set(a.values.subarray(r * a.length * dh, (r + 1) * a.length * dh), dst);
      keys.set(b.keys.subarray(r * b.length * dh, (r + 1) * b.length * dh), dst + a.length * dh);
      values.set(b.values.subarray(r * b.length * dh, (r + 1) * b.length * dh), dst + a.length * dh);
    }
    return { keys, values, length: len };
  }

  /** The most past the body ever needs: a query sees at most W-1 earlier keys. */
  get maxPast(): number {
    return Math.max(0, this.config.attn_window - 1);
  }

  private stateFeeds(state: FastWeightState): Record<StateTensorName, ort.Tensor> {
    const feeds = {} as Record<StateTensorName, ort.Tensor>;
    for (const name of STATE_TENSOR_NAMES) {
      feeds[name] = new ort.Tensor('float32', state.tensors[name], state.shapes[name] as number[]);
    }
    return feeds;
  }

  /** Logits [T, V] for hidden rows [T, d] under a state. */
  async head(hidden: Float32Array, T: number, state: FastWeightState): Promise<Float32Array> {
    const d = this.config.d_model;
    const feeds = { hidden: new ort.Tensor('float32', hidden, [1, T, d]), ...this.stateFeeds(state) };
    const out = await this.sessions.head.run(feeds);
    return out['logits']!.data as Float32Array;
  }

  /** sum_s weights[s] * c_s over the rows of `hidden` (targets: the next token of each row). */
  async contribution(
    hidden: Float32Array,
    targets: readonly number[],
    weights: Float32Array,
  ): Promise<FastWeightState> {
    return (await this.contributions(hidden, targets, [weights]))[0]!;
  }

  /**
   * One weighted sum per row of `weightings` (each of length T). Contribution graphs exported since issue 5
   * take weights [K, T] and return every state tensor with a leading K axis, so the slow pass and the local
   * backward run once for all K; older graphs (weights [1, T], no K axis) run once per weighting.
   */
  async contributions(
    hidden: Float32Array,
    targets: readonly number[],
    weightings: readonly Float32Array[],
  ): Promise<FastWeightState[]> {
    const K = weightings.length;
    if (!this.contributionTakesWeightings) {
      const out: FastWeightState[] = [];
      for (const w of weightings) {
        const r = await this.runContribution(hidden, targets, [w], [...STATE_TENSOR_NAMES]);
        const tensors = {} as StateTensors;
        for (const name of STATE_TENSOR_NAMES) tensors[name] = r[name]!.data as Float32Array;
        out.push(FastWeightState.fromTensors(tensors, this.config.state_tensors));
      }
      return out;
    }
    const r = await this.runContribution(hidden, targets, weightings, [...STATE_TENSOR_NAMES]);
    return weightings.map((_, k) => {
      const tensors = {} as StateTensors;
      for (const name of STATE_TENSOR_NAMES) {
        const all = r[name]!.data as Float32Array;
        const size = all.length / K;
        tensors[name] = all.subarray(k * size, (k + 1) * size);
      }
      return FastWeightState.fromTensors(tensors, this.config.state_tensors);
    });
  }

  /**
   * contributions(), stored compactly (int8 rows): a graph that quantizes its own matrices (outputs
   * `<name>_int8`, `<name>_scales`; training/quantize.py) returns them so, else they are quantized here.
   */
  async compactContributions(
    hidden: Float32Array,
    targets: readonly number[],
    weightings: readonly Float32Array[],
  ): Promise<CompactState[]> {
    const fetches = this.rowFetches;
    if (!fetches) {
      return (await this.contributions(hidden, targets, weightings)).map((s) => CompactState.from(s));
    }
    const r = await this.runContribution(hidden, targets, weightings, fetches);
    const K = weightings.length;
    return weightings.map((_, k) => CompactState.fromGraphOutputs(r, this.config.state_tensors, k, K));
  }

  /** One contribution graph run: weights [K, T] (K = 1 for graphs without the K axis), the outputs `fetches`. */
  private runContribution(
    hidden: Float32Array,
    targets: readonly number[],
    weightings: readonly Float32Array[],
    fetches: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    const T = targets.length;
    const K = weightings.length;
    const weights = K === 1 ? weightings[0]! : new Float32Array(K * T);
    if (K > 1) weightings.forEach((w, k) => weights.set(w, k * T));
    const feeds = {
      hidden: new ort.Tensor('float32', hidden, [1, T, this.config.d_model]),
      targets: new ort.Tensor(
        'int64',
        BigInt64Array.from(targets, (x) => BigInt(x)),
        [1, T],
      ),
      weights: new ort.Tensor('float32', weights, [K, T]),
    };
    return this.sessions.contribution.run(feeds, fetches);
  }

  /** The int8-row outputs compactContributions fetches, when the contribution graph has them (K axis too). */
  private get rowFetches(): readonly string[] | undefined {
    if (this.rowOutputs === undefined) {
      const fetches = STATE_TENSOR_NAMES.flatMap((name) =>
        this.config.state_tensors[name].length === 2 ? [`${name}_int8`, `${name}_scales`] : [name],
      );
      const names = this.sessions.contribution.outputNames as readonly string[] | undefined;
      const has = this.contributionTakesWeightings && fetches.every((f) => names?.includes(f) ?? false);
      this.rowOutputs = has ? fetches : null;
    }
    return this.rowOutputs ?? undefined;
  }

  /** Whether the contribution graph takes several weightings at once (a leading K axis on its outputs). */
  private get contributionTakesWeightings(): boolean {
    if (this.multiWeightings === undefined) {
      // (Optional chaining: stand-in sessions in tests may not describe their outputs.)
      const described = this.sessions.contribution.outputMetadata as
        readonly ort.InferenceSession.ValueMetadata[] | undefined;
      const meta = described?.find((m) => m.name === STATE_TENSOR_NAMES[0]);
      const rank = meta && meta.isTensor ? meta.shape.length : this.config.state_tensors.state_w1.length;
      this.multiWeightings = rank === this.config.state_tensors.state_w1.length + 1;
    }
    return this.multiWeightings;
  }

  get hasFastChunk(): boolean {
    return this.sessions.fastChunk !== undefined;
  }

  /**
   * Exact in-chunk fast pass (fast_chunk.onnx): logits [T, V] where row t uses
   * sum_k coef[k][t] * carried[k] + sum_{s<t} lambda^(t-1-s) targetWeights[s] c_s.
   */
  async fastChunk(
    hidden: Float32Array,
    targets: readonly number[],
    targetWeights: Float32Array,
    carried: readonly FastWeightState[],
    coef: Float32Array,
  ): Promise<Float32Array> {
    const session = this.sessions.fastChunk;
    if (!session) throw new Error('this model folder has no fast_chunk graph');
    const T = targets.length;
    const K = carried.length;
    const d = this.config.d_model;
    const feeds: Record<string, ort.Tensor> = {
      hidden: new ort.Tensor('float32', hidden, [1, T, d]),
      targets: new ort.Tensor(
        'int64',
        BigInt64Array.from(targets, (x) => BigInt(x)),
        [1, T],
      ),
      target_weights: new ort.Tensor('float32', targetWeights, [1, T]),
      carried_coef: new ort.Tensor('float32', coef, [K, 1, T]),
    };
    for (const name of STATE_TENSOR_NAMES) {
      const shape = this.config.state_tensors[name];
      const size = shape.reduce((a, b) => a * b, 1);
      const packed = K === 1 ? carried[0]!.tensors[name] : new Float32Array(K * size);
      if (K !== 1) carried.forEach((c, k) => packed.set(c.tensors[name], k * size));
      feeds[name.replace('state_', 'carried_')] = new ort.Tensor('float32', packed, [K, ...shape]);
    }
    const out = await session.run(feeds);
    return out['logits']!.data as Float32Array;
  }

  /**
   * Hidden states of a whole token sequence (positions 0..), computed in slices with the KV cache trimmed
   * to the attention window, so memory stays bounded and the result equals one long pass.
   */
  async hiddenOf(
    ids: readonly number[],
    slice = 256,
    onSlice?: () => Promise<void>,
  ): Promise<{ hidden: Float32Array; last: KvCache }> {
    const d = this.config.d_model;
    const hidden = new Float32Array(ids.length * d);
    let past: KvCache = this.emptyKv();
    for (let start = 0; start < ids.length; start += slice) {
      const part = ids.slice(start, start + slice);
      const r = await this.body(part, start, past);
      hidden.set(r.hidden, start * d);
      past = this.trimKv(r.present, this.maxPast);
      if (onSlice) await onSlice();
    }
    return { hidden, last: past };
  }

  async dispose(): Promise<void> {
    await this.sessions.release();
  }
}

/** log2-probability of `target` under logits row `row` of a [T, V] array. */
export function log2Prob(logits: Float32Array, row: number, vocab: number, target: number): number {
  const off = row * vocab;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i]! > max) max = logits[off + i]!;
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[off + i]! - max);
  return (logits[off + target]! - max - Math.log(sum)) / Math.LN2;
}

/** Index of the largest logit of a row among ids < limit (default: the whole row) that `allowed` accepts. */
export function argmaxRow(
  logits: Float32Array,
  row: number,
  vocab: number,
  allowed?: (id: number) => boolean,
  limit = vocab,
): number {
  const off = row * vocab;
  const end = Math.min(limit, vocab);
  let best = -1;
  let bestVal = -Infinity;
  for (let i = 0; i < end; i++) {
    const v = logits[off + i]!;
    if (v > bestVal && (!allowed || allowed(i))) {
      bestVal = v;
      best = i;
    }
  }
  return best;
}
