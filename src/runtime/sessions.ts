/**
 * onnxruntime sessions for the three graphs of a model folder, with the execution-provider choice and
 * the CUDA -> CPU fallback, at creation (onnxruntime-node throws when the CUDA provider libraries are
 * absent) and mid-run (a graph run that fails on CUDA recreates the sessions on the CPU and is retried
 * there once). Falling back is our job; the reason is recorded for logging and the status bar.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelFolder, ModelFolderError, STATE_TENSOR_NAMES } from './model';

/**
 * One intra-op thread by default: this model's graphs are small (d=256), so on the 2-core machine of the
 * benchmark one thread beat onnxruntime's own choice (completion p50 61 vs 78 ms, same adaptation speed),
 * and it leaves a core to the extension host.
 */
export const DEFAULT_THREADS = 1;

/**
 * The contribution graph runs only for state builds, in the background, and its vocabulary-wide products
 * split well over two threads (about 2x per run here, against 1.2x for the body), so it gets two where the
 * machine has them. Its pool threads sleep between runs instead of spinning.
 */
export const DEFAULT_CONTRIBUTION_THREADS = Math.min(2, os.availableParallelism());

export type ProviderChoice = 'auto' | 'cuda' | 'cpu';
export type ActiveProvider = 'cpu' | 'cuda';
/** 'int8': the model folder's quantized graphs where it ships them (graphs_int8), fp32 for the rest. */
export type GraphPrecision = 'fp32' | 'int8';

export interface SessionOptions {
  provider?: ProviderChoice;
  /**
   * Threads per graph run (onnxruntime intra-op threads); unset: DEFAULT_THREADS; 0 lets onnxruntime choose.
   */
  threads?: number;
  /** Threads of the contribution graph (state builds); unset: DEFAULT_CONTRIBUTION_THREADS; 0 as above. */
  contributionThreads?: number;
  /** Default 'fp32' (the graphs the Python model is checked against). Applies to the CPU: CUDA runs fp32. */
  precision?: GraphPrecision;
  /**
   * onnxruntime's graph optimisation level; default 'all'. 'disabled' runs the graphs unfused (separate
   * MatMul, Add, LayerNorm... kernels): other kernels on the same CPU, which the numeric tests use to
   * see the spread that another machine's kernels would give (FASTWEIGHTS_TEST_KERNELS=unfused).
   */
  graphOptimization?: GraphOptimization;
}

export type GraphOptimization = 'all' | 'extended' | 'basic' | 'disabled';

/** One graph as the runtime uses it: an onnxruntime session, or the provider-switching wrapper around one. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** Runs the graph; `fetches`: the outputs to return (default all). */
  run(
    feeds: ort.InferenceSession.FeedsType,
    fetches?: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType>;
}

export interface ModelSessions {
  readonly body: GraphSession;
  readonly head: GraphSession;
  readonly contribution: GraphSession;
  /** The exact in-chunk fast pass (absent in model folders without fast_chunk.onnx). */
  readonly fastChunk?: GraphSession;
  /** The provider the sessions run on now: 'cuda' turns into 'cpu' when a CUDA run fails mid-run. */
  readonly provider: ActiveProvider;
  /** 'int8' when at least one quantized graph runs. */
  readonly precision: GraphPrecision;
  /** The provider that was asked for. */
  readonly requested: ProviderChoice;
  /** Why CUDA is not used although it was asked for (undefined when nothing fell back). */
  readonly fallbackReason?: string;
  /**
   * Calls `listener` when the sessions move from CUDA to the CPU after a failed run (with the new
   * fallbackReason); returns a function that removes the listener.
   */
  onProviderChange(listener: (reason: string) => void): () => void;
  release(): Promise<void>;
}

/** The graph interfaces the runtime relies on (the model folder contract). */
const CONTRACT = {
  body: {
    inputs: ['input_ids', 'position_ids', 'past_keys', 'past_values'],
    outputs: ['hidden', 'present_keys', 'present_values'],
  },
  head: { inputs: ['hidden', ...STATE_TENSOR_NAMES], outputs: ['logits'] },
  contribution: { inputs: ['hidden', 'targets', 'weights'], outputs: [...STATE_TENSOR_NAMES] },
  fastChunk: {
    inputs: [
      'hidden',
      'targets',
      'target_weights',
      'carried_w1',
      'carried_b1',
      'carried_w2',
      'carried_b2',
      'carried_gamma',
      'carried_beta',
      'carried_coef',
    ],
    outputs: ['logits'],
  },
} as const;

function checkInterface(
  model: ModelFolder,
  graph: keyof typeof CONTRACT,
  session: ort.InferenceSession,
): void {
  const want = CONTRACT[graph];
  const missingIn = want.inputs.filter((n) => !session.inputNames.includes(n));
  const missingOut = want.outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length > 0 || missingOut.length > 0) {
    throw new ModelFolderError(
      `Model folder ${model.dir}: ${graph} graph does not match the contract ` +
        `(missing inputs: [${missingIn.join(', ')}], missing outputs: [${missingOut.join(', ')}]; ` +
        `it has inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]).`,
      model.dir,
    );
  }
}

/** Folder of onnxruntime-node's native binaries for this platform. */
export function ortBinaryDir(): string {
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The CUDA provider libraries onnxruntime-node would need next to its binding, which are absent. */
export function missingCudaLibraries(): string[] {
  let dir: string;
  try {
    dir = ortBinaryDir();
  } catch {
    return ['onnxruntime-node'];
  }
  return ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'].filter(
    (f) => !fs.existsSync(path.join(dir, f)),
  );
}

/** A short, actionable explanation of why the CUDA provider could not start. */
function describeCudaFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const missing = missingCudaLibraries();
  if (missing.length > 0) {
    return (
      `CUDA provider unavailable: ${message} (${missing.join(', ')} not found in ${ortBinaryDir()}; ` +
      `the CUDA provider is not shipped; see the README section "CUDA")`
    );
  }
  return `CUDA provider unavailable: ${message}`;
}

async function createOne(
  file: string,
  providers: ort.InferenceSession.ExecutionProviderConfig[],
  threads: number | undefined,
  optimization: GraphOptimization,
): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: optimization,
    logSeverityLevel: 3,
    // Every prompt, chunk and key/value length is a new input shape, and onnxruntime caches a memory plan
    // per shape seen, which users of dynamic shapes report growing without bound. A precaution: soaks of
    // 15-18 minutes showed the same RSS with and without it (the growth there is freed memory that the
    // allocator keeps), and no speed difference.
    enableMemPattern: false,
  };
  if (threads && threads > 0) options.intraOpNumThreads = threads;
  if (threads && threads > 1) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return ort.InferenceSession.create(file, options);
}

/** The graph files to load: the int8 ones where asked for and shipped. */
function graphFiles(
  model: ModelFolder,
  precision: GraphPrecision,
): { body: string; head: string; contribution: string; quantized: boolean } {
  const int8 = precision === 'int8' ? model.files.int8 : {};
  return {
    body: int8.body ?? model.files.body,
    head: int8.head ?? model.files.head,
    contribution: int8.contribution ?? model.files.contribution,
    quantized: Object.keys(int8).length > 0,
  };
}

/** The precision CPU sessions run at when `asked` is asked for: int8 only where the folder ships it. */
function cpuPrecision(model: ModelFolder, asked: GraphPrecision): GraphPrecision {
  return graphFiles(model, asked).quantized ? 'int8' : 'fp32';
}

type GraphName = 'body' | 'head' | 'contribution' | 'fastChunk';

/**
 * Intra-op threads: of the contribution graph, and of the others (undefined: onnxruntime's choice); and the
 * graph optimisation level of all of them.
 */
interface ThreadCounts {
  graphs: number | undefined;
  contribution: number | undefined;
  optimization: GraphOptimization;
}

/** The onnxruntime sessions of one provider. */
interface RawSessions {
  body: ort.InferenceSession;
  head: ort.InferenceSession;
  contribution: ort.InferenceSession;
  fastChunk?: ort.InferenceSession;
}

async function releaseRaw(s: RawSessions): Promise<void> {
  await Promise.all(
    [s.body, s.head, s.contribution, s.fastChunk].map((x) => x?.release().catch(() => undefined)),
  );
}

async function createAll(
  model: ModelFolder,
  providers: ort.InferenceSession.ExecutionProviderConfig[],
  threads: ThreadCounts,
  precision: GraphPrecision,
): Promise<RawSessions> {
  const created: ort.InferenceSession[] = [];
  const files = graphFiles(model, precision);
  try {
    const body = await createOne(files.body, providers, threads.graphs, threads.optimization);
    created.push(body);
    const head = await createOne(files.head, providers, threads.graphs, threads.optimization);
    created.push(head);
    const contribution = await createOne(
      files.contribution,
      providers,
      threads.contribution,
      threads.optimization,
    );
    created.push(contribution);
    if (!model.files.fastChunk) return { body, head, contribution };
    const fastChunk = await createOne(model.files.fastChunk, providers, threads.graphs, threads.optimization);
    created.push(fastChunk);
    return { body, head, contribution, fastChunk };
  } catch (e) {
    await Promise.all(created.map((s) => s.release().catch(() => undefined)));
    throw e;
  }
}

function isLoadError(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /protobuf|parse|Load model|invalid model|ModelProto|No graph/i.test(m);
}

/**
 * Creates the body, head and contribution sessions. 'auto' and 'cuda' try CUDA first and fall back to the
 * CPU, returning the reason in `fallbackReason`; 'cpu' never tries CUDA.
 */
export async function createSessions(
  model: ModelFolder,
  options: SessionOptions = {},
): Promise<ModelSessions> {
  const requested = options.provider ?? 'auto';
  const precision = options.precision ?? 'fp32';
  let fallbackReason: string | undefined;
  let sessions: RawSessions | undefined;
  let provider: ActiveProvider = 'cpu';
  const threads: ThreadCounts = {
    graphs: options.threads ?? DEFAULT_THREADS,
    contribution: options.contributionThreads ?? DEFAULT_CONTRIBUTION_THREADS,
    optimization: options.graphOptimization ?? 'all',
  };

  const missing = missingCudaLibraries();
  if (requested === 'auto' && missing.length > 0) {
    // Not even worth a try (onnxruntime would log a loud error first): say why and use the CPU.
    fallbackReason =
      `CUDA provider unavailable: ${missing.join(', ')} not found in ${ortBinaryDir()} ` +
      `(the CUDA provider is not shipped; see the README section "CUDA")`;
  } else if (requested === 'cuda' || requested === 'auto') {
    try {
      // fp32 on CUDA: the int8 graphs are a CPU speed-up (measured there); fp32 is what ran on a GPU.
      sessions = await createAll(model, ['cuda', 'cpu'], threads, 'fp32');
      provider = 'cuda';
    } catch (e) {
      fallbackReason = describeCudaFailure(e);
    }
  }
  if (!sessions) {
    try {
      sessions = await createAll(model, ['cpu'], threads, precision);
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      throw new ModelFolderError(
        `Model folder ${model.dir}: could not load the graphs${isLoadError(e) ? ' (corrupt or truncated ONNX file?)' : ''}: ${m}`,
        model.dir,
      );
    }
    provider = 'cpu';
  }
  const s = sessions;
  try {
    for (const graph of ['body', 'head', 'contribution'] as const) checkInterface(model, graph, s[graph]);
    if (s.fastChunk) checkInterface(model, 'fastChunk', s.fastChunk);
  } catch (e) {
    await releaseRaw(s);
    throw e;
  }
  return new SwitchingSessions(model, s, {
    provider,
    requested,
    precision: provider === 'cuda' ? 'fp32' : cpuPrecision(model, precision),
    threads,
    askedPrecision: precision,
    fallbackReason,
  });
}

/**
 * Errors of the caller's feeds, which the CPU would raise just the same: onnxruntime's argument checks
 * (TypeError, RangeError, a missing input) and its input validation (rank, dimensions, type).
 */
const FEEDS_ERROR =
  /is missing in 'feeds'|INVALID_ARGUMENT|Invalid rank for input|invalid dimensions for input|Unexpected input data type/i;

/** A failed run worth a CPU retry: anything but an error in the feeds. */
function isProviderFailure(e: unknown): boolean {
  if (e instanceof TypeError || e instanceof RangeError) return false;
  return !FEEDS_ERROR.test(e instanceof Error ? e.message : String(e));
}

/** The sessions of one provider and the runs in flight on them (retired ones are released when idle). */
interface Generation {
  sessions: RawSessions;
  provider: ActiveProvider;
  running: number;
  retired: boolean;
  released: boolean;
}

/** A graph of SwitchingSessions: always runs on the sessions' current provider. */
class SwitchingGraph implements GraphSession {
  constructor(
    private readonly owner: SwitchingSessions,
    private readonly graph: GraphName,
  ) {}

  get inputNames(): readonly string[] {
    return this.owner.current(this.graph).inputNames;
  }

  get outputNames(): readonly string[] {
    return this.owner.current(this.graph).outputNames;
  }

  get inputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.owner.current(this.graph).inputMetadata;
  }

  get outputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.owner.current(this.graph).outputMetadata;
  }

  run(
    feeds: ort.InferenceSession.FeedsType,
    fetches?: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    return this.owner.run(this.graph, feeds, fetches);
  }
}

/**
 * The model's sessions behind one object whose graphs keep their identity while the provider changes: a run
 * that fails on CUDA recreates all sessions on the CPU (the asked precision, the same threads), retries that
 * run there once, and stays on the CPU with a fallbackReason; runs still in flight on CUDA finish before its
 * sessions are released. A failed CPU run is just that run's error: nothing changes for the next one.
 */
class SwitchingSessions implements ModelSessions {
  readonly body: GraphSession;
  readonly head: GraphSession;
  readonly contribution: GraphSession;
  readonly fastChunk?: GraphSession;
  readonly requested: ProviderChoice;
  /** fp32 on CUDA; on the CPU the asked precision (so it can change with a fallback). */
  precision: GraphPrecision;
  fallbackReason?: string;
  private gen: Generation;
  private readonly retired: Generation[] = [];
  private switching: Promise<void> | undefined;
  private readonly listeners = new Set<(reason: string) => void>();
  private readonly threads: ThreadCounts;
  private readonly askedPrecision: GraphPrecision;

  constructor(
    private readonly model: ModelFolder,
    sessions: RawSessions,
    o: {
      provider: ActiveProvider;
      requested: ProviderChoice;
      precision: GraphPrecision;
      threads: ThreadCounts;
      askedPrecision: GraphPrecision;
      fallbackReason: string | undefined;
    },
  ) {
    this.gen = { sessions, provider: o.provider, running: 0, retired: false, released: false };
    this.requested = o.requested;
    this.precision = o.precision;
    this.threads = o.threads;
    this.askedPrecision = o.askedPrecision;
    if (o.fallbackReason !== undefined) this.fallbackReason = o.fallbackReason;
    this.body = new SwitchingGraph(this, 'body');
    this.head = new SwitchingGraph(this, 'head');
    this.contribution = new SwitchingGraph(this, 'contribution');
    if (sessions.fastChunk) this.fastChunk = new SwitchingGraph(this, 'fastChunk');
  }

  get provider(): ActiveProvider {
    return this.gen.provider;
  }

  current(graph: GraphName): ort.InferenceSession {
    const s = this.gen.sessions[graph];
    if (!s) throw new Error(`this model folder has no ${graph} graph`);
    return s;
  }

  onProviderChange(listener: (reason: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async run(
    graph: GraphName,
    feeds: ort.InferenceSession.FeedsType,
    fetches?: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    const gen = this.gen;
    if (gen.provider === 'cpu') return this.runOn(gen, graph, feeds, fetches);
    try {
      return await this.runOn(gen, graph, feeds, fetches);
    } catch (e) {
      if (!isProviderFailure(e)) throw e;
      await this.fallBackToCpu(gen, graph, e);
      return this.runOn(this.gen, graph, feeds, fetches);
    }
  }

  private async runOn(
    gen: Generation,
    graph: GraphName,
    feeds: ort.InferenceSession.FeedsType,
    fetches: readonly string[] | undefined,
  ): Promise<ort.InferenceSession.ReturnType> {
    const session = gen.sessions[graph];
    if (!session) throw new Error(`this model folder has no ${graph} graph`);
    gen.running++;
    try {
      return await (fetches ? session.run(feeds, [...fetches]) : session.run(feeds));
    } finally {
      gen.running--;
      if (gen.retired && gen.running === 0) this.releaseGen(gen);
    }
  }

  /** Moves every graph to the CPU once (concurrent failures share the switch); throws if that fails too. */
  private fallBackToCpu(failed: Generation, graph: GraphName, err: unknown): Promise<void> {
    if (this.gen !== failed) return this.switching ?? Promise.resolve();
    this.switching ??= (async () => {
      const message = err instanceof Error ? err.message : String(err);
      let cpu: RawSessions;
      try {
        cpu = await createAll(this.model, ['cpu'], this.threads, this.askedPrecision);
      } catch (e) {
        const m = e instanceof Error ? e.message : String(e);
        throw new Error(
          `CUDA provider failed mid-run (${graph} graph: ${message}) and the CPU sessions could not be created: ${m}`,
          { cause: e },
        );
      }
      const reason = `CUDA provider failed mid-run (${graph} graph: ${message}); running on the CPU from now on`;
      this.gen = { sessions: cpu, provider: 'cpu', running: 0, retired: false, released: false };
      this.precision = cpuPrecision(this.model, this.askedPrecision);
      this.fallbackReason = reason;
      failed.retired = true;
      this.retired.push(failed);
      if (failed.running === 0) this.releaseGen(failed);
      for (const l of this.listeners) {
        try {
          l(reason);
        } catch {
          // A listener's failure must not fail the retried run.
        }
      }
    })().finally(() => {
      this.switching = undefined;
    });
    return this.switching;
  }

  private releaseGen(gen: Generation): Promise<void> {
    if (gen.released) return Promise.resolve();
    gen.released = true;
    return releaseRaw(gen.sessions);
  }

  async release(): Promise<void> {
    await this.switching?.catch(() => undefined);
    await Promise.all([this.gen, ...this.retired].map((g) => this.releaseGen(g)));
  }
}
