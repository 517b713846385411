/**
 * Loads a model folder (models/<name>/) and checks it against the model folder contract
 * (see models/README.md). Pure Node: no editor API.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The model-folder format this runtime reads. */
export const SUPPORTED_FORMAT_VERSION = 1;

export const STATE_TENSOR_NAMES = [
  'state_w1',
  'state_b1',
  'state_w2',
  'state_b2',
  'state_gamma',
  'state_beta',
] as const;
export type StateTensorName = (typeof STATE_TENSOR_NAMES)[number];

export interface FwlConfig {
  /** Per-token decay of older contributions (lambda). */
  decay: number;
  /** Fixed normaliser N used in the contribution graph (informational here; it lives in the graph). */
  normaliser: number;
  state_rule: 'exp_decay';
}

export interface ModelConfig {
  format_version: number;
  name: string;
  vocab_size: number;
  d_model: number;
  n_layer: number;
  n_head: number;
  head_dim: number;
  fwl_hidden: number;
  attn_window: number;
  train_seq_len: number;
  bos_token_id: number;
  fwl: FwlConfig;
  /** Graph files; fast_chunk (the exact in-chunk fast pass, used to score files) may be absent. */
  graphs: { body: string; head: string; contribution: string; fast_chunk?: string };
  /**
   * Optional int8 (dynamically quantized) versions of graphs, same inputs and outputs; the runtime uses them
   * when asked for precision 'int8'. Graphs not listed run in fp32.
   */
  graphs_int8?: Partial<Record<'body' | 'head' | 'contribution', string>>;
  /** Chunk length C used to score files (defaults to attn_window). */
  eval_chunk_tokens: number;
  tokenizer: string;
  state_tensors: Record<StateTensorName, number[]>;
  /**
   * The repository state's weight and token budget for this model (repositoryState.ts); absent: the
   * runtime's defaults (DEFAULT_REPOSITORY_CONFIG).
   */
  repository?: { weight: number; max_tokens: number };
}

export interface ModelFolder {
  dir: string;
  config: ModelConfig;
  /** Absolute paths of the files named by the config. */
  files: {
    body: string;
    head: string;
    contribution: string;
    fastChunk?: string;
    tokenizer: string;
    /** Absolute paths of the int8 graphs the config lists. */
    int8: Partial<Record<'body' | 'head' | 'contribution', string>>;
  };
}

export class ModelFolderError extends Error {
  constructor(
    message: string,
    readonly dir: string,
  ) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

function fail(dir: string, message: string): never {
  throw new ModelFolderError(`Model folder ${dir}: ${message}`, dir);
}

function expectInt(dir: string, obj: Record<string, unknown>, key: string, min = 1): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail(dir, `config.json field "${key}" must be an integer >= ${min} (found ${JSON.stringify(v)}).`);
  }
  return v;
}

function expectString(dir: string, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) {
    fail(dir, `config.json field "${key}" must be a non-empty string (found ${JSON.stringify(v)}).`);
  }
  return v;
}

function expectObject(dir: string, obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = obj[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    fail(dir, `config.json field "${key}" must be an object.`);
  }
  return v as Record<string, unknown>;
}

/** Validates a parsed config.json; throws ModelFolderError with a precise message on the first problem. */
export function validateConfig(dir: string, raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(dir, 'config.json must hold a JSON object.');
  }
  const obj = raw as Record<string, unknown>;
  const version = obj['format_version'];
  if (version !== SUPPORTED_FORMAT_VERSION) {
    fail(
      dir,
      `format_version ${JSON.stringify(version)} is not supported: this FastWeights runtime reads ` +
        `format_version ${SUPPORTED_FORMAT_VERSION}. Re-export the model or update the extension.`,
    );
  }
  const name = expectString(dir, obj, 'name');
  const vocab_size = expectInt(dir, obj, 'vocab_size');
  const d_model = expectInt(dir, obj, 'd_model');
  const n_layer = expectInt(dir, obj, 'n_layer');
  const n_head = expectInt(dir, obj, 'n_head');
  const head_dim = expectInt(dir, obj, 'head_dim');
  const fwl_hidden = expectInt(dir, obj, 'fwl_hidden');
  const attn_window = expectInt(dir, obj, 'attn_window');
  const train_seq_len = expectInt(dir, obj, 'train_seq_len');
  const bos_token_id = expectInt(dir, obj, 'bos_token_id', 0);
  if (bos_token_id >= vocab_size) fail(dir, `bos_token_id ${bos_token_id} is outside the vocabulary.`);

  const fwlRaw = expectObject(dir, obj, 'fwl');
  const decay = fwlRaw['decay'];
  if (typeof decay !== 'number' || !(decay > 0 && decay <= 1)) {
    fail(dir, `fwl.decay must be a number in (0, 1] (found ${JSON.stringify(decay)}).`);
  }
  const normaliser = fwlRaw['normaliser'];
  if (typeof normaliser !== 'number' || !(normaliser > 0)) {
    fail(dir, `fwl.normaliser must be a positive number (found ${JSON.stringify(normaliser)}).`);
  }
  if (fwlRaw['state_rule'] !== 'exp_decay') {
    fail(
      dir,
      `fwl.state_rule ${JSON.stringify(fwlRaw['state_rule'])} is not supported (expected "exp_decay").`,
    );
  }

  const graphsRaw = expectObject(dir, obj, 'graphs');
  const graphs: ModelConfig['graphs'] = {
    body: expectString(dir, graphsRaw, 'body'),
    head: expectString(dir, graphsRaw, 'head'),
    contribution: expectString(dir, graphsRaw, 'contribution'),
  };
  if (graphsRaw['fast_chunk'] !== undefined) graphs.fast_chunk = expectString(dir, graphsRaw, 'fast_chunk');
  let graphs_int8: ModelConfig['graphs_int8'];
  if (obj['graphs_int8'] !== undefined) {
    const raw = expectObject(dir, obj, 'graphs_int8');
    graphs_int8 = {};
    for (const key of ['body', 'head', 'contribution'] as const) {
      if (raw[key] !== undefined) graphs_int8[key] = expectString(dir, raw, key);
    }
  }
  const eval_chunk_tokens =
    obj['eval_chunk_tokens'] === undefined ? attn_window : expectInt(dir, obj, 'eval_chunk_tokens');
  const tokenizer = expectString(dir, obj, 'tokenizer');

  const stRaw = expectObject(dir, obj, 'state_tensors');
  const expected: Record<StateTensorName, number[]> = {
    state_w1: [d_model, fwl_hidden],
    state_b1: [fwl_hidden],
    state_w2: [fwl_hidden, d_model],
    state_b2: [d_model],
    state_gamma: [d_model],
    state_beta: [d_model],
  };
  const state_tensors = {} as Record<StateTensorName, number[]>;
  for (const key of STATE_TENSOR_NAMES) {
    const shape = stRaw[key];
    if (!Array.isArray(shape) || JSON.stringify(shape) !== JSON.stringify(expected[key])) {
      fail(
        dir,
        `state_tensors.${key} must be ${JSON.stringify(expected[key])} for d_model=${d_model}, ` +
          `fwl_hidden=${fwl_hidden} (found ${JSON.stringify(shape)}).`,
      );
    }
    state_tensors[key] = shape as number[];
  }
  let repository: ModelConfig['repository'];
  if (obj['repository'] !== undefined) {
    const r = expectObject(dir, obj, 'repository');
    const weight = r['weight'];
    const maxTokens = r['max_tokens'];
    if (
      typeof weight !== 'number' ||
      !(weight >= 0) ||
      !Number.isInteger(maxTokens) ||
      !(Number(maxTokens) > 0)
    )
      fail(
        dir,
        `repository must hold a weight >= 0 and a positive integer max_tokens (found ${JSON.stringify(r)}).`,
      );
    repository = { weight, max_tokens: Number(maxTokens) };
  }
  return {
    format_version: SUPPORTED_FORMAT_VERSION,
    name,
    vocab_size,
    d_model,
    n_layer,
    n_head,
    head_dim,
    fwl_hidden,
    attn_window,
    train_seq_len,
    bos_token_id,
    fwl: { decay, normaliser, state_rule: 'exp_decay' },
    graphs,
    ...(graphs_int8 ? { graphs_int8 } : {}),
    eval_chunk_tokens,
    tokenizer,
    state_tensors,
    ...(repository ? { repository } : {}),
  };
}

function checkFile(dir: string, rel: string, what: string, minBytes: number): string {
  const p = path.resolve(dir, rel);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    fail(dir, `${what} "${rel}" is missing.`);
  }
  if (!st.isFile()) fail(dir, `${what} "${rel}" is not a file.`);
  if (st.size < minBytes) fail(dir, `${what} "${rel}" is truncated or empty (${st.size} bytes).`);
  // Git LFS pointers look like tiny text files: name the cause instead of a protobuf parse error later.
  if (st.size < 1024) {
    const head = fs.readFileSync(p, 'utf8');
    if (head.startsWith('version https://git-lfs')) {
      fail(dir, `${what} "${rel}" is a Git LFS pointer, not the file: run "git lfs pull".`);
    }
  }
  return p;
}

/** Reads and validates a model folder. Throws ModelFolderError with a message a user can act on. */
export function loadModelFolder(dir: string): ModelFolder {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    fail(abs, 'the folder does not exist.');
  }
  const cfgPath = path.join(abs, 'config.json');
  if (!fs.existsSync(cfgPath)) fail(abs, 'config.json is missing.');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    fail(abs, `config.json is not valid JSON (${(e as Error).message}).`);
  }
  const config = validateConfig(abs, raw);
  const files: ModelFolder['files'] = {
    body: checkFile(abs, config.graphs.body, 'graph', 64),
    head: checkFile(abs, config.graphs.head, 'graph', 64),
    contribution: checkFile(abs, config.graphs.contribution, 'graph', 64),
    tokenizer: checkFile(abs, config.tokenizer, 'tokenizer', 16),
    int8: {},
  };
  for (const [graph, rel] of Object.entries(config.graphs_int8 ?? {})) {
    files.int8[graph as keyof ModelFolder['files']['int8']] = checkFile(abs, rel, 'graph', 64);
  }
  if (config.graphs.fast_chunk) files.fastChunk = checkFile(abs, config.graphs.fast_chunk, 'graph', 64);
  checkTokenizerFits(abs, config, files.tokenizer);
  return { dir: abs, config, files };
}

/**
 * A tokenizer from another model gives ids the graphs do not know (or the wrong bos): refuse it here with
 * a clear message instead of an index error or nonsense suggestions later.
 */
function checkTokenizerFits(dir: string, config: ModelConfig, file: string): void {
  let json: {
    model?: { vocab?: Record<string, number> };
    added_tokens?: { id: number; special?: boolean }[];
  };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof json;
  } catch (e) {
    fail(dir, `tokenizer "${config.tokenizer}" is not valid JSON (${(e as Error).message}).`);
  }
  const vocab = json.model?.vocab;
  if (typeof vocab !== 'object' || vocab === null) {
    fail(
      dir,
      `tokenizer "${config.tokenizer}" has no model.vocab: it is not a byte-level BPE tokenizer.json.`,
    );
  }
  const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  let maxId = -1;
  for (const id of Object.values(vocab)) if (id > maxId) maxId = id;
  for (const t of added) if (t.id > maxId) maxId = t.id;
  if (maxId >= config.vocab_size) {
    fail(
      dir,
      `tokenizer "${config.tokenizer}" has ids up to ${maxId} but config.json vocab_size is ` +
        `${config.vocab_size}: the tokenizer belongs to another model.`,
    );
  }
  if (!added.some((t) => t.id === config.bos_token_id && t.special)) {
    fail(
      dir,
      `tokenizer "${config.tokenizer}" has no special token with id ${config.bos_token_id} ` +
        `(config.json bos_token_id): the tokenizer belongs to another model.`,
    );
  }
}

/** The model shipped with the package: `models/<name>/` next to `out/`. */
export const DEFAULT_MODEL_NAME = 'fw-code-small';

/**
 * Finds the default model folder below `packageRoot/models`: FASTWEIGHTS_MODEL_DIR if set, else
 * models/fw-code-small, else the only (or first, by name) folder there holding a config.json.
 */
export function defaultModelDir(packageRoot: string): string {
  const fromEnv = process.env['FASTWEIGHTS_MODEL_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  const modelsDir = path.join(packageRoot, 'models');
  const preferred = path.join(modelsDir, DEFAULT_MODEL_NAME);
  if (fs.existsSync(path.join(preferred, 'config.json'))) return preferred;
  if (fs.existsSync(modelsDir)) {
    const candidates = fs
      .readdirSync(modelsDir)
      .filter((n) => fs.existsSync(path.join(modelsDir, n, 'config.json')))
      .sort();
    if (candidates.length > 0) return path.join(modelsDir, candidates[0]!);
  }
  return preferred;
}
