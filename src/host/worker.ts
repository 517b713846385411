/**
 * The model worker: owns the runtime and the per-document states, and answers the main thread's requests
 * (see protocol.ts). Background state builds yield to completions through the runtime's scheduler.
 */
import { parentPort } from 'node:worker_threads';
import {
  completeLine,
  DEFAULT_NGRAM_PARAMS,
  evaluateText,
  EvaluationCancelled,
  FastWeightsRuntime,
  NgramCacheParams,
  PromptCaches,
  RepositoryContext,
  RuntimeOptions,
} from '../runtime';
import type { FastWeightState } from '../runtime';
import { DocumentStates } from '../adaptation/documentStates';
import { SuffixIndex } from '../runtime/suffixIndex';
import { WorkspaceTokens } from '../runtime/workspaceTokens';
import { DEFAULT_WORKSPACE_PARAMS } from '../runtime/workspaceNgrams';
import type { CompletionResult, EvaluationResult, FromWorker, ToWorker } from './protocol';

/** Documents whose prompt keys and values are kept: the one being edited and the one used before it. */
const PROMPT_CACHE_FILES = 2;

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');

let runtime: FastWeightsRuntime | undefined;
/**
 * Keys and values of each recent document's last prompt (per runtime): typing on, and going back to a file,
 * reuse them. At most about 19 MB each (room for 1,536 positions of 6 layers x 4 heads).
 */
const promptCaches = new PromptCaches(PROMPT_CACHE_FILES);
/** Each open document's text as last sent (the prompt to warm up when the cursor comes to it). */
const texts = new Map<string, string>();
const cancelled = new Set<number>();
/** Cursor offset of the last completion request per uri: a rebuild starts with the chunks near it. */
const cursors = new Map<string, number>();

const post = (m: FromWorker): void => port.postMessage(m);
const log = (level: 'debug' | 'info' | 'warn' | 'error', message: string): void =>
  post({ type: 'log', level, message });

/** Latest document update received per uri: state messages carry it so the main thread knows what is done. */
const seqs = new Map<string, number>();
const postState = (uri: string): void =>
  post({ type: 'state', uri, info: states.info(uri) ?? null, seq: seqs.get(uri) ?? 0 });

const states = new DocumentStates({
  // The main thread debounces edits; the worker builds what it is sent right away.
  editDebounceMs: 0,
  openDelayMs: 0,
  log: (m) => log('debug', m),
  onBusyChange: (building) => post({ type: 'busy', building }),
  onStateChange: (uri) => postState(uri),
});

let fileCacheParams: NgramCacheParams = DEFAULT_NGRAM_PARAMS;

/** The repository state of the documents in use (per runtime; empty until a workspace is sent). */
let repository: RepositoryContext | undefined;
/** When the last completion request came: repository work waits until typing pauses this long. */
let lastCompletionAt = 0;
const TYPING_PAUSE_MS = 500;
async function typingPaused(): Promise<void> {
  for (;;) {
    const wait = lastCompletionAt + TYPING_PAUSE_MS - Date.now();
    if (wait <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
/**
 * The last sum of a document's own state and its repository state (2 MB): the next request at the same
 * place, which gets the same two cached states, reuses it.
 */
let withRepository: { own: FastWeightState; repo: FastWeightState; sum: FastWeightState } | undefined;

/** The document's own state at the cursor plus its repository state when that is ready. */
function addRepository(uri: string, own: FastWeightState): FastWeightState {
  const repo = repository?.stateFor(uri)?.state;
  if (!repo) return own;
  if (withRepository?.own === own && withRepository.repo === repo) return withRepository.sum;
  const sum = own.clone().addScaled(repo, 1); // (own is cached by its document state: not changed here)
  withRepository = { own, repo, sum };
  return sum;
}

/** Starts the repository state of a document in the background (once per list of workspace files). */
function prepareRepository(uri: string): void {
  repository
    ?.prepare(uri)
    .then(reserveWorkspaceMemory)
    .catch((e: unknown) =>
      log('warn', `repository state failed: ${e instanceof Error ? e.message : String(e)}`),
    );
}

/** The workspace's index and repository states count against the same memory budget as the files' states. */
function reserveWorkspaceMemory(): void {
  const tokens = workspaceTokens?.ids.byteLength ?? 0;
  states.reserve((workspace?.index.byteLength ?? 0) + tokens + (repository?.byteLength ?? 0));
}

/** The workspace's index and where each file lies in it (to leave the file being completed out). */
let workspace: { index: SuffixIndex; spans: Map<string, { from: number; to: number }> } | undefined;
/** The files' token ids between builds (only changed files are tokenized again), for one model's tokenizer. */
let workspaceTokens: { encoder: unknown; ids: WorkspaceTokens } | undefined;
/** Least time between two progress messages of a workspace index build. */
const PROGRESS_INTERVAL_MS = 250;
/** Bumped by each setWorkspace: a build overtaken by a newer list is dropped. */
let workspaceGeneration = 0;

/**
 * Tokenizes the files one at a time, yielding to other messages between them (a completion waits for one
 * file at most), then builds the suffix array in one go (about 0.4 s per million tokens here).
 */
async function buildWorkspace(files: { uri: string; text: string }[]): Promise<void> {
  const generation = ++workspaceGeneration;
  const rt = runtime;
  const t0 = performance.now();
  if (!rt || files.length === 0) {
    workspace = undefined;
    workspaceTokens = undefined;
    post({ type: 'workspace', files: 0, tokens: 0, bytes: 0, ms: 0, tokenized: 0 });
    return;
  }
  if (workspaceTokens?.encoder !== rt.tokenizer)
    workspaceTokens = { encoder: rt.tokenizer, ids: new WorkspaceTokens((t) => rt.tokenizer.encode(t)) };
  // Progress for the status bar, four times a second at most.
  let reported = 0;
  const progress = (done: number, total: number): void => {
    const now = performance.now();
    if (now - reported < PROGRESS_INTERVAL_MS && done < total) return;
    reported = now;
    post({ type: 'workspaceProgress', done, total });
  };
  const docs = await workspaceTokens.ids.update(
    files,
    () => new Promise((resolve) => setImmediate(resolve)),
    () => generation !== workspaceGeneration,
    progress,
  );
  if (!docs) return;
  const index = SuffixIndex.build(docs);
  const spans = new Map(files.map((f, k) => [f.uri, index.documentSpan(k)] as const));
  workspace = { index, spans };
  const ms = performance.now() - t0;
  log(
    'info',
    `workspace index: ${files.length} files (${workspaceTokens.ids.tokenized} tokenized anew), ${index.tokenCount} tokens, ${(index.byteLength / 1048576).toFixed(1)} MB in ${ms.toFixed(0)} ms`,
  );
  post({
    type: 'workspace',
    files: files.length,
    tokens: index.tokenCount,
    bytes: index.byteLength,
    ms,
    tokenized: workspaceTokens.ids.tokenized,
  });
}

/**
 * The cursor came to rest in a document whose prompt has no cached keys (a file just opened, or gone back to
 * after two others): prefill the text before the cursor in the background, so that the first suggestion
 * there feeds the body only what was typed since instead of the whole prompt.
 */
function warmPrompt(uri: string, offset: number): void {
  const rt = runtime;
  const text = texts.get(uri);
  // (The text sent for a very large file stops early: a cursor past its end has no prompt to warm.)
  if (!rt || text === undefined || offset === 0 || offset > text.length || promptCaches.peek(uri)?.hasKv)
    return;
  const options = { maxTokens: 0, promptCache: promptCaches.for(uri), priority: 'background' as const };
  completeLine(rt, text.slice(0, offset), options).catch((e: unknown) =>
    log('debug', `prompt warm-up failed: ${e instanceof Error ? e.message : String(e)}`),
  );
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'load': {
      try {
        const options: RuntimeOptions = { modelDir: m.modelDir, provider: m.provider };
        if (m.precision !== undefined) options.precision = m.precision;
        if (m.threads !== undefined) options.threads = m.threads;
        if (m.maxMemoryMB !== undefined) states.setBudget(m.maxMemoryMB * 1048576);
        const rt = await FastWeightsRuntime.load(options);
        // A CUDA run that fails after loading moves the model to the CPU: tell the user (log, status bar).
        rt.sessions.onProviderChange((reason) => {
          if (runtime !== rt) return;
          log('warn', reason);
          post({ type: 'info', info: rt.info });
        });
        const old = runtime;
        runtime = rt;
        // (Each of its units would hold a completion up to about 15 ms: in the replay of the test split, p50
        // latency 21 -> 40 ms while the states of 48 files were computed; so only while typing pauses.)
        repository = new RepositoryContext(rt, undefined, typingPaused);
        withRepository = undefined;
        promptCaches.clear();
        states.setRuntime(rt);
        if (old) await old.dispose();
        post({ type: 'loaded', info: rt.info, vocabSize: rt.config.vocab_size });
      } catch (e) {
        post({ type: 'loadError', message: e instanceof Error ? e.message : String(e) });
      }
      return;
    }
    case 'complete': {
      const rt = runtime;
      try {
        if (!rt) throw new Error('the model is not loaded');
        lastCompletionAt = Date.now();
        cursors.set(m.uri, m.prefix.length);
        const st = m.adapt ? states.stateFor(m.uri, m.prefix) : undefined;
        const options: Parameters<typeof completeLine>[2] = {
          maxTokens: m.maxTokens,
          isCancelled: () => cancelled.has(m.id),
          promptCache: promptCaches.for(m.uri),
        };
        if (st) options.state = st.state;
        if (st && m.workspace !== false) {
          // The repository state joins the file's own once it is computed (in the background, from now).
          prepareRepository(m.uri);
          const own = st.state;
          options.state = () => addRepository(m.uri, own());
        }
        if (st && m.fileCache !== false) options.ngrams = { cache: st.ngrams, params: fileCacheParams };
        if (st && m.fileCache !== false && m.workspace !== false && workspace) {
          const exclude = workspace.spans.get(m.uri);
          options.workspace = {
            index: workspace.index,
            params: DEFAULT_WORKSPACE_PARAMS,
            ...(exclude ? { exclude } : {}),
          };
        }
        if (m.maxLines !== undefined) options.maxLines = m.maxLines;
        if (m.minIndent !== undefined) options.minIndent = m.minIndent;
        if (m.minTokenProb !== undefined) options.minTokenProb = m.minTokenProb;
        const c = await completeLine(rt, m.prefix, options);
        const value: CompletionResult = { ...c, stateTokens: st?.tokens ?? 0 };
        post({ type: 'result', id: m.id, value });
      } catch (e) {
        post({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
      } finally {
        cancelled.delete(m.id);
      }
      return;
    }
    case 'evaluate': {
      const rt = runtime;
      try {
        if (!rt) throw new Error('the model is not loaded');
        const fileTokens = rt.tokenizer.encode(m.text).length;
        const exclude = m.uri !== undefined ? workspace?.spans.get(m.uri) : undefined;
        // The panel's repository figure is what completions get: their repository state first (background).
        if (m.uri !== undefined && workspace) await repository?.prepare(m.uri).catch(() => undefined);
        const repo = m.uri !== undefined ? repository?.stateFor(m.uri) : undefined;
        const s = await evaluateText(rt, m.text, {
          ngrams: fileCacheParams,
          priority: 'background',
          maxTokens: m.maxTokens,
          isCancelled: () => cancelled.has(m.id),
          onProgress: (done, total) => post({ type: 'progress', id: m.id, done, total }),
          ...(workspace && workspace.index.tokenCount > 0
            ? {
                workspace: {
                  index: workspace.index,
                  params: DEFAULT_WORKSPACE_PARAMS,
                  ...(exclude ? { exclude } : {}),
                },
              }
            : {}),
          // (Already weighted: see RepositoryContext.stateFor.)
          ...(repo ? { repository: { state: repo.state, weight: 1 } } : {}),
        });
        const value: EvaluationResult = {
          ...s,
          fileTokens,
          ...(repo ? { repositoryFiles: repo.files } : {}),
        };
        post({ type: 'result', id: m.id, value });
      } catch (e) {
        post({
          type: 'error',
          id: m.id,
          message: e instanceof Error ? e.message : String(e),
          cancelled: e instanceof EvaluationCancelled,
        });
      } finally {
        cancelled.delete(m.id);
      }
      return;
    }
    case 'setWorkspace':
      repository?.setFiles(m.files, m.roots ?? []);
      withRepository = undefined;
      await buildWorkspace(m.files);
      reserveWorkspaceMemory();
      return;
    case 'setFileCacheParams':
      fileCacheParams = m.params;
      return;
    case 'setMemoryBudget':
      states.setBudget(m.maxMemoryMB * 1048576);
      return;
    case 'cancel':
      cancelled.add(m.id);
      return;
    case 'docUpdate':
      seqs.set(m.uri, m.seq);
      texts.set(m.uri, m.text);
      states.changed({
        uri: m.uri,
        version: m.version,
        getText: () => m.text,
        cursorOffset: m.cursorOffset ?? cursors.get(m.uri) ?? 0,
      });
      postState(m.uri);
      return;
    case 'cursor':
      cursors.set(m.uri, m.offset);
      states.cursorMoved(m.uri, m.offset);
      warmPrompt(m.uri, m.offset);
      prepareRepository(m.uri);
      return;
    case 'docClosed':
      states.closed(m.uri);
      promptCaches.delete(m.uri);
      texts.delete(m.uri);
      seqs.delete(m.uri);
      cursors.delete(m.uri);
      withRepository = undefined;
      return;
    case 'reset':
      states.reset(m.uri);
      return;
    case 'resetAll':
      states.resetAll();
      return;
    case 'shutdown':
      // Terminating the thread while onnxruntime runs a graph aborts the whole process (the extension host):
      // cancel the builds, wait for the running scheduler unit, and hold the lock so nothing else starts.
      states.dispose();
      if (!runtime) post({ type: 'closed' });
      else
        void runtime.scheduler.run('foreground', () => {
          post({ type: 'closed' });
          return new Promise<never>(() => undefined);
        });
      return;
  }
}

port.on('message', (m: ToWorker) => {
  void handle(m);
});
