/**
 * Messages between the extension host's main thread and the model worker (src/host/worker.ts).
 * onnxruntime-node runs a graph synchronously on the calling thread, so the model lives in a worker thread
 * and the extension host stays responsive while states build and completions decode.
 */
import type {
  Completion,
  FileScore,
  GraphPrecision,
  NgramCacheParams,
  ProviderChoice,
  RuntimeInfo,
} from '../runtime';
import type { DocumentStateInfo } from '../adaptation/documentStates';

export type ToWorker =
  | {
      type: 'load';
      modelDir: string;
      provider: ProviderChoice;
      threads?: number;
      /** Graph precision (default fp32; 'int8' runs the model folder's quantized graphs where shipped). */
      precision?: GraphPrecision;
      /** Memory budget of all per-file states together (MB). */
      maxMemoryMB?: number;
    }
  | { type: 'setMemoryBudget'; maxMemoryMB: number }
  /** Gate (or fixed weight) and back-off of the file's n-gram cache in adapted completions (tools tune it). */
  | { type: 'setFileCacheParams'; params: NgramCacheParams }
  | {
      type: 'complete';
      id: number;
      uri: string;
      prefix: string;
      maxTokens: number;
      adapt: boolean;
      /** Lines generated at most (absent: 1, the end of the current line). */
      maxLines?: number;
      /** Multi-line: stop at a line indented less than this (characters of leading whitespace). */
      minIndent?: number;
      /** With adapt: also mix in the file's n-gram cache (absent: true). */
      fileCache?: boolean;
      /** With the file cache: also mix in the workspace's index when there is one (absent: true). */
      workspace?: boolean;
      /** End the text before the first token less probable than this (absent or 0: never). */
      minTokenProb?: number;
    }
  /**
   * The workspace's files to index (replacing any earlier index); completions with the file cache then
   * also mix in the index's continuations. An empty list drops the index.
   */
  | { type: 'setWorkspace'; files: { uri: string; text: string }[]; roots?: string[] }
  | { type: 'cancel'; id: number }
  | { type: 'docUpdate'; uri: string; version: number; text: string; seq: number; cursorOffset?: number }
  | { type: 'docClosed'; uri: string }
  /** The editor's cursor in a document (a character offset), once it rests. */
  | { type: 'cursor'; uri: string; offset: number }
  | { type: 'reset'; uri: string }
  | { type: 'resetAll' }
  /** Finish the running graph, start nothing more, answer 'closed': then the thread may be terminated. */
  | { type: 'shutdown' }
  /** `uri`: the document the text is (its own span in the workspace index is left out of the repository score). */
  | { type: 'evaluate'; id: number; text: string; maxTokens: number; uri?: string };

export interface CompletionResult extends Completion {
  /** Tokens the document state held when the completion started (0: static model). */
  stateTokens: number;
}

export interface EvaluationResult extends FileScore {
  /** Tokens of the whole text before any truncation to maxTokens. */
  fileTokens: number;
  /** The files (uris) whose repository state was added (repositoryBits), most related first. */
  repositoryFiles?: string[];
}

export type FromWorker =
  | { type: 'loaded'; info: RuntimeInfo; vocabSize: number }
  | { type: 'loadError'; message: string }
  /** The runtime's info changed after 'loaded' (CUDA failed mid-run and the model moved to the CPU). */
  | { type: 'info'; info: RuntimeInfo }
  | { type: 'result'; id: number; value: CompletionResult | EvaluationResult }
  | { type: 'error'; id: number; message: string; cancelled?: boolean }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'state'; uri: string; info: DocumentStateInfo | null; seq: number }
  | { type: 'busy'; building: number }
  /** The workspace index sent last is built (or dropped: files 0). */
  | { type: 'workspace'; files: number; tokens: number; bytes: number; ms: number; tokenized: number }
  /** Files of the workspace list tokenized so far (or found unchanged), while an index is built. */
  | { type: 'workspaceProgress'; done: number; total: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'closed' };
