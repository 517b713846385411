/**
 * The main thread's handle on the model worker: requests with ids and cancellation, debounced document
 * updates, and a mirror of each document's state info. No editor API here (the extension adapts it).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { GraphPrecision, NgramCacheParams, ProviderChoice, RuntimeInfo } from '../runtime';
import type { DocumentStateInfo } from '../adaptation/documentStates';
import type { CompletionResult, EvaluationResult, FromWorker, ToWorker } from './protocol';

/** How long the cursor rests before the worker hears of it (see cursorMoved). */
const CURSOR_REST_MS = 150;

export interface ClientOptions {
  modelDir: string;
  provider: ProviderChoice;
  threads?: number;
  /** Graph precision (default fp32; 'int8' runs the model folder's quantized graphs where shipped). */
  precision?: GraphPrecision;
  /** Memory budget of all per-file states together (MB; default 256). */
  maxMemoryMB?: number;
  /** Path of the bundled worker (default: worker.js next to this bundle). */
  workerPath?: string;
  /** Delay after an edit before the document's state is rebuilt (ms). */
  editDebounceMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  onBusyChange?: (building: number) => void;
  onStateChange?: (uri: string, info: DocumentStateInfo | undefined) => void;
  /** The runtime info changed after loading (the provider fell back from CUDA to the CPU mid-run). */
  onInfoChange?: (info: RuntimeInfo) => void;
}

export interface Cancellable {
  readonly isCancellationRequested: boolean;
  onCancellationRequested?: (listener: () => void) => { dispose(): void };
}

export class RequestCancelled extends Error {
  constructor() {
    super('request cancelled');
    this.name = 'RequestCancelled';
  }
}

interface Pending {
  resolve: (v: CompletionResult | EvaluationResult) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number, total: number) => void;
}

export class ModelClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly stateInfo = new Map<string, DocumentStateInfo>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly cursorTimers = new Map<string, NodeJS.Timeout>();
  private readonly sentVersion = new Map<string, number>();
  private readonly sentSeq = new Map<string, number>();
  private readonly doneSeq = new Map<string, number>();
  private seq = 0;
  /** Callers of setWorkspace waiting for the index to be built (rejected if the worker stops first). */
  private workspaceWaiters: {
    resolve: (m: { files: number; tokens: number; bytes: number; ms: number; tokenized: number }) => void;
    reject: (e: Error) => void;
    /** Files tokenized so far of the list being indexed (workspaceProgress). */
    progress?: (done: number, total: number) => void;
  }[] = [];
  private readonly idleWaiters = new Map<string, (() => void)[]>();
  private building = 0;
  private disposed = false;
  info: RuntimeInfo | undefined;
  readonly ready: Promise<RuntimeInfo>;

  constructor(private readonly opts: ClientOptions) {
    const workerPath = opts.workerPath ?? path.join(__dirname, 'worker.js');
    this.worker = new Worker(workerPath);
    this.worker.unref();
    this.ready = new Promise<RuntimeInfo>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'loaded') {
          this.info = m.info;
          this.worker.off('message', onMessage);
          resolve(m.info);
        } else if (m.type === 'loadError') {
          this.worker.off('message', onMessage);
          reject(new Error(m.message));
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', (e) => reject(e));
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => {
      opts.log?.('error', `model worker failed: ${e.message}`);
      this.failAll(e);
    });
    this.worker.on('exit', (code) => {
      if (!this.disposed) {
        opts.log?.('error', `model worker exited (code ${code})`);
        this.failAll(new Error(`model worker exited (code ${code})`));
      }
    });
    const load: ToWorker = { type: 'load', modelDir: opts.modelDir, provider: opts.provider };
    if (opts.threads !== undefined) load.threads = opts.threads;
    if (opts.precision !== undefined) load.precision = opts.precision;
    if (opts.maxMemoryMB !== undefined) load.maxMemoryMB = opts.maxMemoryMB;
    this.post(load);
  }

  private post(m: ToWorker): void {
    if (!this.disposed) this.worker.postMessage(m);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    // A worker that stopped builds no index: its waiters must not wait forever (the feed would stall).
    const waiters = this.workspaceWaiters;
    this.workspaceWaiters = [];
    for (const w of waiters) w.reject(e);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'result': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.value);
        return;
      }
      case 'error': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.reject(m.cancelled ? new RequestCancelled() : new Error(m.message));
        return;
      }
      case 'progress':
        this.pending.get(m.id)?.onProgress?.(m.done, m.total);
        return;
      case 'state': {
        if (m.info) this.stateInfo.set(m.uri, m.info);
        else this.stateInfo.delete(m.uri);
        this.doneSeq.set(m.uri, m.seq);
        this.opts.onStateChange?.(m.uri, m.info ?? undefined);
        this.checkIdle(m.uri);
        return;
      }
      case 'busy':
        this.building = m.building;
        this.opts.onBusyChange?.(m.building);
        return;
      case 'workspace': {
        const waiters = this.workspaceWaiters;
        this.workspaceWaiters = [];
        for (const w of waiters) w.resolve(m);
        return;
      }
      case 'workspaceProgress':
        for (const w of this.workspaceWaiters) w.progress?.(m.done, m.total);
        return;
      case 'log':
        this.opts.log?.(m.level, m.message);
        return;
      case 'info':
        this.info = m.info;
        this.opts.onInfoChange?.(m.info);
        return;
      default:
        return;
    }
  }

  private request<T extends CompletionResult | EvaluationResult>(
    build: (id: number) => ToWorker,
    token?: Cancellable,
    onProgress?: (done: number, total: number) => void,
  ): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (token?.isCancellationRequested) {
        reject(new RequestCancelled());
        return;
      }
      const sub = token?.onCancellationRequested?.(() => this.post({ type: 'cancel', id }));
      const done = (): void => sub?.dispose();
      const pending: Pending = {
        resolve: (v) => {
          done();
          resolve(v as T);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (onProgress) pending.onProgress = onProgress;
      this.pending.set(id, pending);
      this.post(build(id));
    });
  }

  /**
   * Completes the line after `prefix` in document `uri`, with that document's state unless adapt is false
   * (and its n-gram cache unless fileCache is false);
   * `maxLines` > 1 lets the text run over that many lines, ending early at a line indented less than
   * `minIndent` characters. A cancelled token stops the worker's decoding.
   */
  complete(
    uri: string,
    prefix: string,
    maxTokens: number,
    token?: Cancellable,
    adapt = true,
    maxLines?: number,
    minIndent?: number,
    more: { fileCache?: boolean; minTokenProb?: number; workspace?: boolean } = {},
  ): Promise<CompletionResult> {
    return this.request<CompletionResult>((id) => {
      const m: ToWorker = { type: 'complete', id, uri, prefix, maxTokens, adapt };
      if (maxLines !== undefined) m.maxLines = maxLines;
      if (minIndent !== undefined) m.minIndent = minIndent;
      if (more.fileCache !== undefined) m.fileCache = more.fileCache;
      if (more.minTokenProb !== undefined) m.minTokenProb = more.minTokenProb;
      if (more.workspace === false) m.workspace = false;
      return m;
    }, token);
  }

  /**
   * Bits per byte of a text: static, adapted, whole file, and with the workspace index when one is built
   * (background priority). `uri`: the document the text is, so its own copy in the index is left out.
   */
  evaluate(
    text: string,
    maxTokens: number,
    token?: Cancellable,
    onProgress?: (done: number, total: number) => void,
    uri?: string,
  ): Promise<EvaluationResult> {
    return this.request<EvaluationResult>(
      (id) => ({ type: 'evaluate', id, text, maxTokens, ...(uri ? { uri } : {}) }),
      token,
      onProgress,
    );
  }

  /**
   * Schedules a state (re)build of a document; `delayMs` 0 sends it at once. `cursorOffset` (optional) is
   * where the state is built first; without it the worker uses the last completion request's cursor.
   */
  documentChanged(
    uri: string,
    version: number,
    getText: () => string,
    delayMs?: number,
    cursorOffset?: number,
  ): void {
    const delay = delayMs ?? this.opts.editDebounceMs ?? 800;
    const old = this.timers.get(uri);
    if (old) clearTimeout(old);
    if (this.stateInfo.get(uri)?.builtVersion === version && this.sentVersion.get(uri) === version) return;
    const send = (): void => {
      this.timers.delete(uri);
      this.sentVersion.set(uri, version);
      const seq = ++this.seq;
      this.sentSeq.set(uri, seq);
      const m: ToWorker = { type: 'docUpdate', uri, version, text: getText(), seq };
      if (cursorOffset !== undefined) m.cursorOffset = cursorOffset;
      this.post(m);
    };
    if (delay <= 0) send();
    else this.timers.set(uri, setTimeout(send, delay));
  }

  /**
   * The editor's cursor moved in `uri` (character offset). Sent once it has rested CURSOR_REST_MS, so
   * typing and holding an arrow key send nothing until they stop.
   */
  cursorMoved(uri: string, offset: number): void {
    const old = this.cursorTimers.get(uri);
    if (old) clearTimeout(old);
    this.cursorTimers.set(
      uri,
      setTimeout(() => {
        this.cursorTimers.delete(uri);
        this.post({ type: 'cursor', uri, offset });
      }, CURSOR_REST_MS),
    );
  }

  documentClosed(uri: string): void {
    const c = this.cursorTimers.get(uri);
    if (c) clearTimeout(c);
    this.cursorTimers.delete(uri);
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
    this.sentVersion.delete(uri);
    this.sentSeq.delete(uri);
    this.doneSeq.delete(uri);
    this.stateInfo.delete(uri);
    this.post({ type: 'docClosed', uri });
    this.checkIdle(uri);
  }

  reset(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
    const info = this.stateInfo.get(uri);
    if (info)
      this.stateInfo.set(uri, { ...info, tokens: 0, builtVersion: undefined, building: false, bytes: 0 });
    this.post({ type: 'reset', uri });
    this.checkIdle(uri);
  }

  resetAll(): void {
    for (const uri of [...this.timers.keys()]) {
      clearTimeout(this.timers.get(uri)!);
      this.timers.delete(uri);
    }
    for (const [uri, info] of this.stateInfo) {
      this.stateInfo.set(uri, { ...info, tokens: 0, builtVersion: undefined, building: false, bytes: 0 });
    }
    this.post({ type: 'resetAll' });
    for (const uri of this.idleWaiters.keys()) this.checkIdle(uri);
  }

  /** Mixture gate or weight and back-off of the file's n-gram cache (default DEFAULT_NGRAM_PARAMS). */
  /**
   * Indexes the workspace's files in the worker (replacing the last index; [] drops it); resolves when that
   * index is built, with its size and how many files it tokenized (the others were unchanged since the last
   * list). Completions with the file cache then also use the index.
   */
  setWorkspace(
    files: { uri: string; text: string }[],
    roots: string[] = [],
    progress?: (done: number, total: number) => void,
  ): Promise<{ files: number; tokens: number; bytes: number; ms: number; tokenized: number }> {
    return new Promise((resolve, reject) => {
      if (this.disposed) {
        reject(new Error('model worker stopped'));
        return;
      }
      // Resolved by the next index built: the newest list's, unless an earlier build was already finishing.
      this.workspaceWaiters.push({ resolve, reject, progress });
      this.post({ type: 'setWorkspace', files, roots });
    });
  }

  setFileCacheParams(params: NgramCacheParams): void {
    this.post({ type: 'setFileCacheParams', params });
  }

  /** Changes the memory budget of the per-file states (MB); over it, least recently used states drop. */
  setMemoryBudget(maxMemoryMB: number): void {
    this.post({ type: 'setMemoryBudget', maxMemoryMB });
  }

  /** Last known state info of a document (mirrored from the worker). */
  documentState(uri: string): DocumentStateInfo | undefined {
    return this.stateInfo.get(uri);
  }

  get busy(): number {
    return this.building;
  }

  private isIdle(uri: string): boolean {
    if (this.timers.has(uri)) return false;
    const sent = this.sentSeq.get(uri);
    if (sent === undefined) return true;
    if ((this.doneSeq.get(uri) ?? 0) < sent) return false;
    return !(this.stateInfo.get(uri)?.building ?? false);
  }

  private checkIdle(uri: string): void {
    if (!this.isIdle(uri)) return;
    const waiters = this.idleWaiters.get(uri);
    this.idleWaiters.delete(uri);
    waiters?.forEach((w) => w());
  }

  /** Resolves when no state build is pending or running for `uri`. */
  whenIdle(uri: string): Promise<void> {
    if (this.isIdle(uri)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.idleWaiters.get(uri) ?? [];
      list.push(resolve);
      this.idleWaiters.set(uri, list);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.timers.values(), ...this.cursorTimers.values()]) clearTimeout(t);
    this.timers.clear();
    this.cursorTimers.clear();
    this.failAll(new Error('model worker stopped'));
    for (const list of this.idleWaiters.values()) list.forEach((w) => w());
    this.idleWaiters.clear();
    await this.workerStopped();
    await this.worker.terminate();
  }

  /**
   * Asks the worker to finish its running graph first: terminating it mid-run aborts the process. The
   * bound only guards against a worker that no longer answers.
   */
  private workerStopped(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 30000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'closed') done();
      });
      this.worker.once('exit', done);
      this.worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
    });
  }
}
