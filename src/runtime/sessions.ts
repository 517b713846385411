/**
 * onnxruntime sessions for the three graphs of a model folder, with the execution-provider choice and
 * the CUDA -> CPU fallback (onnxruntime-node throws at session creation when the CUDA provider libraries
 * are absent; falling back is our job, and the reason is returned for logging).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelFolder, ModelFolderError, STATE_TENSOR_NAMES } from './model';

/**
 * One intra-op thread by default: this model's graphs are small (d=256), so on the 2-core machine of the
 * benchmark one thread beat onnxruntime's own choice (completion p50 61 vs 78 ms, same adaptation speed),
 * and it leaves a core to the extension host.
 */
export const DEFAULT_THREADS = 1;

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
  /** Default 'fp32' (the graphs the Python model is checked against). */
  precision?: GraphPrecision;
}

export interface ModelSessions {
  body: ort.InferenceSession;
  head: ort.InferenceSession;
  contribution: ort.InferenceSession;
  /** The exact in-chunk fast pass (absent in model folders without fast_chunk.onnx). */
  fastChunk?: ort.InferenceSession;
  /** The provider the sessions run on. */
  provider: ActiveProvider;
  /** 'int8' when at least one quantized graph runs. */
  precision: GraphPrecision;
  /** The provider that was asked for. */
  requested: ProviderChoice;
  /** Why CUDA was not used although it was asked for (undefined when nothing fell back). */
  fallbackReason?: string;
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
): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  if (threads && threads > 0) options.intraOpNumThreads = threads;
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

async function createAll(
  model: ModelFolder,
  providers: ort.InferenceSession.ExecutionProviderConfig[],
  threads: number | undefined,
  precision: GraphPrecision,
): Promise<Pick<ModelSessions, 'body' | 'head' | 'contribution' | 'fastChunk'>> {
  const created: ort.InferenceSession[] = [];
  const files = graphFiles(model, precision);
  try {
    const body = await createOne(files.body, providers, threads);
    created.push(body);
    const head = await createOne(files.head, providers, threads);
    created.push(head);
    const contribution = await createOne(files.contribution, providers, threads);
    created.push(contribution);
    if (!model.files.fastChunk) return { body, head, contribution };
    const fastChunk = await createOne(model.files.fastChunk, providers, threads);
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
  let sessions: Pick<ModelSessions, 'body' | 'head' | 'contribution' | 'fastChunk'> | undefined;
  let provider: ActiveProvider = 'cpu';
  const threads = options.threads ?? DEFAULT_THREADS;

  const missing = missingCudaLibraries();
  if (requested === 'auto' && missing.length > 0) {
    // Not even worth a try (onnxruntime would log a loud error first): say why and use the CPU.
    fallbackReason =
      `CUDA provider unavailable: ${missing.join(', ')} not found in ${ortBinaryDir()} ` +
      `(the CUDA provider is not shipped; see the README section "CUDA")`;
  } else if (requested === 'cuda' || requested === 'auto') {
    try {
      sessions = await createAll(model, ['cuda', 'cpu'], threads, precision);
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
  for (const graph of ['body', 'head', 'contribution'] as const) checkInterface(model, graph, s[graph]);
  if (s.fastChunk) checkInterface(model, 'fastChunk', s.fastChunk);
  const result: ModelSessions = {
    ...s,
    provider,
    requested,
    precision: graphFiles(model, precision).quantized ? 'int8' : 'fp32',
    async release() {
      await Promise.all([
        s.body.release(),
        s.head.release(),
        s.contribution.release(),
        s.fastChunk?.release(),
      ]);
    },
  };
  if (fallbackReason !== undefined) result.fallbackReason = fallbackReason;
  return result;
}
