/**
 * FastWeights extension entry: wires editor events to the model worker (src/host: the runtime and the
 * per-document states live in a worker thread, so the extension host never waits on a graph), the inline
 * completion provider, the commands, the status bar and the gain panel.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultModelDir, ProviderChoice, RuntimeInfo } from './runtime';
import type { DocumentStateInfo } from './adaptation/documentStates';
import { ModelClient } from './host/client';
import { CompletionRecord, FastWeightsInlineProvider, readSettings } from './completion/provider';
import { CompletionStats } from './completion/stats';
import type { CompletionPipeline } from './completion/pipeline';
import { completionMenuItems, registerCompletionControls } from './completion/controls';
import {
  DEFAULT_LANGUAGES,
  isServedByDefault,
  LanguageOffNotice,
  languageOffNotice,
  languageSupport,
} from './completion/languages';
import { GainPanel, PanelMessage } from './panel/gainPanel';
import type { RenderedHeadline } from './panel/messages';
import { adaptationText, skipReason } from './inputGuards';
import { watchModelFolder } from './modelWatch';
import { StatusEditor } from './statusEditor';
import { WorkspaceFeed } from './workspaceFeed';

export type RuntimeStatus = 'loading' | 'ready' | 'error';

/** What activate() returns: lets tests (and other extensions) wait for the model and look inside. */
export interface FastWeightsApi {
  /** Resolves when the current model load finishes (also after a failed load: see `status`/`error`). */
  readonly runtimeReady: Promise<void>;
  readonly status: RuntimeStatus;
  readonly error: string | undefined;
  /** 'cpu' | 'cuda' once loaded. */
  readonly provider: string | undefined;
  readonly providerInfo: RuntimeInfo | undefined;
  getDocumentState(uri: vscode.Uri | string): DocumentStateInfo | undefined;
  /** Resolves when the document's state is built (or nothing is pending for it). */
  whenDocumentStateReady(uri: vscode.Uri | string): Promise<DocumentStateInfo | undefined>;
  readonly lastCompletion: CompletionRecord | undefined;
  /** Local completion statistics (shown, accepted, latency) per file and per session; the gain panel reads them. */
  readonly completionStats: CompletionStats;
  /** The completion pipeline the inline provider drives (its counters tell tests what it did). */
  readonly completionPipeline: CompletionPipeline;
  readonly completionCount: number;
  /** The gain panel's last message, when the panel is open. */
  readonly gainPanelMessage: PanelMessage | undefined;
  /** Resolves when the gain panel has a final report or error. */
  whenGainPanelDone(): Promise<PanelMessage | undefined>;
  /** What the gain panel's page reports showing in its headline (text), once it has rendered a report. */
  readonly gainPanelRendered: RenderedHeadline | undefined;
  /** Hands the gain panel a message as if its page sent it (same validation); false when it was rejected. */
  gainPanelReceive(message: unknown): Promise<boolean>;
  /** The status bar item's text and tooltip (tests read what the user sees). */
  readonly statusBar: { text: string; tooltip: string };
  /** Why a document is left alone (binary, minified, too large), or undefined. */
  skipReason(uri: vscode.Uri | string): string | undefined;
  /** What the workspace index is doing ("indexing D/N files", "workspace index: N files, T tokens", ...). */
  workspaceIndexStatus(): { indexing: boolean; text: string } | undefined;
}

/** Documents that can be served at all: saved or untitled text, not output panes, diffs or git views. */
const SERVED_SCHEMES = ['file', 'untitled', 'vscode-remote'];

function enableSetting(): Readonly<Record<string, boolean>> {
  return readSettings().enable;
}

/** What to tell the user about a document whose language is off, or undefined when it is on. */
function offNoticeFor(doc: vscode.TextDocument): LanguageOffNotice | undefined {
  return languageOffNotice(doc.languageId, languageSupport(doc.languageId, enableSetting()));
}

/**
 * Whether a document gets an adaptation state and reaches the completion pipeline. A language served by
 * default does even while the user has it turned off (its state is ready when it is turned on again, and
 * the pipeline says why it showed nothing); any other language only while fastweights.enable names it, so
 * a file of a language the model does not serve costs nothing.
 */
function isSupported(doc: vscode.TextDocument): boolean {
  if (!SERVED_SCHEMES.includes(doc.uri.scheme)) return false;
  return isServedByDefault(doc.languageId) || languageSupport(doc.languageId, enableSetting()).on;
}

export function activate(context: vscode.ExtensionContext): FastWeightsApi {
  const log = vscode.window.createOutputChannel('FastWeights', { log: true });
  const status = vscode.window.createStatusBarItem(
    'fastweights.status',
    vscode.StatusBarAlignment.Right,
    100,
  );
  status.name = 'FastWeights';
  status.command = 'fastweights.showMenu';
  context.subscriptions.push(log, status);

  let client: ModelClient | undefined;
  let runtimeStatus: RuntimeStatus = 'loading';
  /** What the workspace index is doing (a line of the status bar's tooltip). */
  let workspaceStatus: { indexing: boolean; text: string } | undefined;
  let runtimeError: string | undefined;
  let lastCompletion: CompletionRecord | undefined;
  let completionCount = 0;
  let generation = 0;
  /** Documents left alone by the input guards, with the reason (checked whenever their text is sent). */
  const skipped = new Map<string, string>();
  let modelWatch: { dispose(): void } | undefined;
  let shownError: string | undefined;

  context.subscriptions.push({
    dispose: () => {
      generation++;
      modelWatch?.dispose();
      void client?.dispose();
      client = undefined;
    },
  });

  const statusEditor = new StatusEditor<vscode.TextEditor>();

  function updateStatus(): void {
    const editor = statusEditor.pick(vscode.window.activeTextEditor, vscode.window.visibleTextEditors);
    const provider = client?.info?.provider.toUpperCase() ?? '';
    const languageOff = editor ? offNoticeFor(editor.document) : undefined;
    if (runtimeStatus === 'loading') {
      status.text = '$(loading~spin) FastWeights';
      status.tooltip = 'FastWeights: loading the model...';
      status.backgroundColor = undefined;
    } else if (runtimeStatus === 'error') {
      status.text = '$(error) FastWeights';
      status.tooltip = `FastWeights: ${runtimeError ?? 'error'} (click for the menu, see the FastWeights output)`;
      status.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (!editor || !SERVED_SCHEMES.includes(editor.document.uri.scheme)) {
      status.text = `$(circle-slash) FastWeights ${provider}`;
      status.tooltip = `FastWeights: off for this editor (not a file or an untitled document); runs on ${provider}`;
      status.backgroundColor = undefined;
    } else if (languageOff) {
      status.text = `$(circle-slash) FastWeights ${provider}`;
      status.tooltip = languageOff.tooltip;
      status.backgroundColor = undefined;
    } else if (skipped.has(editor.document.uri.toString())) {
      status.text = `$(circle-slash) FastWeights ${provider}`;
      status.tooltip = `FastWeights: off for this file: ${skipped.get(editor.document.uri.toString())}`;
      status.backgroundColor = undefined;
    } else {
      const info = client?.documentState(editor.document.uri.toString());
      const adapting = (client?.busy ?? 0) > 0 || (info?.building ?? false);
      const busy = adapting || (workspaceStatus?.indexing ?? false);
      status.text = busy ? `$(sync~spin) FastWeights ${provider}` : `$(check) FastWeights ${provider}`;
      status.tooltip =
        `FastWeights: ${adapting ? 'adapting to the file' : 'ready'} on ${provider}` +
        (info ? `; state from ${info.tokens} tokens` : '') +
        (workspaceStatus ? `\n${workspaceStatus.text}` : '') +
        (client?.info?.fallbackReason ? `\n${client.info.fallbackReason}` : '');
      status.backgroundColor = undefined;
    }
    // Screen readers (and the browser test, which waits for "ready; state from N tokens") read the tooltip.
    status.accessibilityInformation = {
      label: typeof status.tooltip === 'string' ? status.tooltip : status.text,
    };
    status.show();
  }

  let resolveReady!: () => void;
  let runtimeReady = new Promise<void>((r) => (resolveReady = r));

  async function loadRuntime(): Promise<void> {
    const my = ++generation;
    runtimeStatus = 'loading';
    runtimeError = undefined;
    updateStatus();
    const provider = vscode.workspace
      .getConfiguration('fastweights')
      .get<ProviderChoice>('executionProvider', 'auto');
    const modelDir = defaultModelDir(context.extensionPath);
    log.info(`loading model from ${modelDir} (executionProvider: ${provider})`);
    const next = new ModelClient({
      modelDir,
      provider,
      precision: 'int8', // the model folder's quantized graphs where it ships them (issue 5)
      maxMemoryMB: maxMemoryMB(),
      workerPath: path.join(context.extensionPath, 'out', 'worker.js'),
      log: (level, message) => log[level](message),
      onBusyChange: () => updateStatus(),
      onStateChange: (uri, info) => {
        updateStatus();
        // The panel refreshes when a build is done, not when one starts.
        if (!info?.building) GainPanel.stateChanged(uri);
      },
      // CUDA failed mid-run (the worker logged why): the status bar now says CPU, its tooltip the reason.
      onInfoChange: () => updateStatus(),
    });
    try {
      const info = await next.ready;
      if (my !== generation) {
        await next.dispose();
        return;
      }
      const old = client;
      client = next;
      inline.clearCache();
      if (old) void old.dispose();
      if (info.fallbackReason) log.warn(`${info.fallbackReason}; running on the CPU`);
      log.info(
        `model ${info.modelName} ready on ${info.provider.toUpperCase()} in ${info.loadMs.toFixed(0)} ms ` +
          `(requested: ${info.requested})`,
      );
      runtimeStatus = 'ready';
      modelWatch?.dispose();
      modelWatch = undefined;
      shownError = undefined;
      for (const doc of vscode.workspace.textDocuments) if (isSupported(doc)) docChanged(doc, 0);
      workspaceFeed.schedule(); // a new worker holds no index
    } catch (err) {
      void next.dispose();
      if (my !== generation) return;
      runtimeStatus = 'error';
      runtimeError = err instanceof Error ? err.message : String(err);
      log.error(`could not load the model: ${runtimeError}`);
      // Nothing half-working stays behind: no suggestions until a model loads. Fixing the folder reloads.
      const old = client;
      client = undefined;
      inline.clearCache();
      if (old) void old.dispose();
      modelWatch?.dispose();
      modelWatch = watchModelFolder(modelDir, () => reloadModel('the model folder changed'));
      if (shownError === runtimeError) return;
      shownError = runtimeError;
      void vscode.window
        .showErrorMessage(`FastWeights could not load its model: ${runtimeError}`, 'Show Log')
        .then((choice) => {
          if (choice) log.show(true);
        });
    } finally {
      if (my === generation) {
        updateStatus();
        resolveReady();
      }
    }
  }

  function reloadModel(why: string): Promise<void> {
    log.info(`reloading the model: ${why}`);
    runtimeReady = new Promise<void>((r) => (resolveReady = r));
    return loadRuntime();
  }

  const completionStats = new CompletionStats();
  const inline = new FastWeightsInlineProvider({
    client: () => client,
    ready: () => runtimeReady,
    log,
    stats: completionStats,
    onCompletion: (r) => {
      lastCompletion = r;
      completionCount++;
    },
  });
  // The languages served by default in any scheme, as always (notebook cells included), and every language
  // of the served schemes: which of those are on is the setting's to say, and it changes without a restart. A
  // document that is off costs one settings look-up per request.
  const selector: vscode.DocumentFilter[] = [
    ...DEFAULT_LANGUAGES.map((language) => ({ language })),
    ...SERVED_SCHEMES.map((scheme) => ({ scheme })),
  ];
  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider(selector, {
      provideInlineCompletionItems: (doc, position, ctx, token) => {
        if (ctx.triggerKind === vscode.InlineCompletionTriggerKind.Invoke) explainIfOff(doc);
        // A default language the user turned off still goes on: the pipeline counts the request and says no.
        const served = isServedByDefault(doc.languageId) || isSupported(doc);
        if (!served || skipped.has(doc.uri.toString())) return undefined;
        return inline.provideInlineCompletionItems(doc, position, ctx, token);
      },
    }),
  );

  /**
   * Languages whose notice was shown this session: asking again says it in the status bar instead (Alt+\
   * in a Markdown file, asked of another extension, must not bring the notice back each time).
   */
  const noticesShown = new Set<string>();

  /**
   * An explicit ask (Alt+/, Alt+\) in a language that is off: say why and offer to turn it on. The
   * setting changes only on the user's click.
   */
  function explainIfOff(doc: vscode.TextDocument): void {
    const languageId = doc.languageId;
    const notice = offNoticeFor(doc);
    if (!notice) return;
    log.info(`no completion in ${doc.uri.toString()}: ${notice.tooltip}`);
    if (noticesShown.has(languageId)) {
      void vscode.window.setStatusBarMessage(notice.tooltip, 5000);
      return;
    }
    noticesShown.add(languageId);
    void vscode.window.showInformationMessage(notice.message, notice.button).then(async (choice) => {
      if (choice === notice.button) await turnOnLanguage(languageId);
    });
  }

  /** Writes `"<id>": true` into the user's global fastweights.enable map, keeping its other entries. */
  async function turnOnLanguage(languageId: string): Promise<void> {
    const config = vscode.workspace.getConfiguration('fastweights');
    const inspected = config.inspect<Record<string, boolean>>('enable');
    const current = inspected?.globalValue ?? inspected?.defaultValue ?? {};
    try {
      await config.update('enable', { ...current, [languageId]: true }, vscode.ConfigurationTarget.Global);
    } catch (err) {
      log.error(`could not turn on ${languageId}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const support = languageSupport(languageId, enableSetting());
    // A workspace or folder entry wins over the user settings.
    const outcome = support.on
      ? `completions on for ${languageId}`
      : `${languageId} is still off (${support.reason}: a workspace setting wins)`;
    log.info(`"${languageId}": true written to fastweights.enable in the user settings; ${outcome}`);
    void vscode.window.setStatusBarMessage(`FastWeights: ${outcome}`, 5000);
  }

  context.subscriptions.push(...registerCompletionControls(inline));

  /** Memory budget of all adaptation states (setting fastweights.adaptation.maxMemoryMB). */
  function maxMemoryMB(): number {
    return vscode.workspace.getConfiguration('fastweights').get<number>('adaptation.maxMemoryMB', 256);
  }

  /** Schedules a rebuild of a document's state (debounced after edits; `delayMs` 0 for open/focus). */
  function docChanged(doc: vscode.TextDocument, delayMs?: number): void {
    const uri = doc.uri.toString();
    const editor = vscode.window.activeTextEditor;
    // The editor's cursor, so that the state near it is built first.
    const cursor = editor?.document === doc ? cursorOffset(editor) : undefined;
    client?.documentChanged(uri, doc.version, () => guardedText(uri, doc.getText()), delayMs, cursor);
  }

  /** Character offset of an editor's (primary) cursor. */
  function cursorOffset(editor: vscode.TextEditor): number {
    return editor.document.offsetAt(editor.selection.active);
  }

  /** The text a state is built from; empty (nothing adapted) for a document the guards leave alone. */
  function guardedText(uri: string, text: string): string {
    const reason = skipReason(text);
    if (reason !== skipped.get(uri)) {
      if (reason) skipped.set(uri, reason);
      else skipped.delete(uri);
      log.info(`${uri}: ${reason ? `off for this file: ${reason}` : 'back on'}`);
      updateStatus();
    }
    return reason ? '' : adaptationText(text);
  }

  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument((doc) => {
      if (isSupported(doc)) docChanged(doc, 0);
    }),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length > 0 && isSupported(e.document)) {
        docChanged(e.document);
        updateStatus();
      }
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      client?.documentClosed(doc.uri.toString());
      inline.clearCache(doc.uri.toString());
      skipped.delete(doc.uri.toString());
    }),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      const doc = e.textEditor.document;
      const uri = doc.uri.toString();
      if (e.textEditor !== vscode.window.activeTextEditor || !isSupported(doc) || skipped.has(uri)) return;
      client?.cursorMoved(uri, cursorOffset(e.textEditor));
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor && isSupported(editor.document)) {
        docChanged(editor.document, 0);
        client?.cursorMoved(editor.document.uri.toString(), cursorOffset(editor));
      }
      updateStatus();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('fastweights.enable')) enableChanged();
      if (e.affectsConfiguration('fastweights.executionProvider')) {
        void reloadModel('fastweights.executionProvider changed');
      }
      if (e.affectsConfiguration('fastweights.adaptation.maxMemoryMB'))
        client?.setMemoryBudget(maxMemoryMB());
    }),
  );

  /**
   * A language turned on gets its open documents adapted (and checked by the input guards) at once; one
   * not served by default that is no longer named drops its states.
   */
  function enableChanged(): void {
    for (const doc of vscode.workspace.textDocuments) {
      const uri = doc.uri.toString();
      if (isSupported(doc)) docChanged(doc, 0);
      else if (client?.documentState(uri)) {
        client.documentClosed(uri);
        inline.clearCache(uri);
        skipped.delete(uri);
      }
    }
    updateStatus();
  }

  const uriString = (uri: vscode.Uri | string): string => (typeof uri === 'string' ? uri : uri.toString());

  const workspaceFeed = new WorkspaceFeed({
    send: (files, progress) => {
      const c = client;
      // (The workspace folders: a file's repository context reads its imports relative to its folder.)
      const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
      return c
        ? c.setWorkspace(files, roots, progress)
        : Promise.reject(new Error('the model is not loaded'));
    },
    enabled: () =>
      vscode.workspace.getConfiguration('fastweights').get<boolean>('adaptation.workspace', true),
    maxTokens: () =>
      vscode.workspace.getConfiguration('fastweights').get<number>('workspace.maxTokens', 1000000),
    log: (message) => log.info(message),
    onStatus: (s) => {
      workspaceStatus = s;
      updateStatus();
    },
  });
  context.subscriptions.push(
    workspaceFeed,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (
        e.affectsConfiguration('fastweights.adaptation.workspace') ||
        e.affectsConfiguration('fastweights.workspace.maxTokens')
      ) {
        inline.clearCache(); // suggestions made with the old index are not shown again
        workspaceFeed.schedule();
      }
    }),
  );

  context.subscriptions.push(
    vscode.commands.registerCommand('fastweights.resetFileAdaptation', (uri?: vscode.Uri) => {
      const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
      if (!target) {
        void vscode.window.showInformationMessage('FastWeights: open a file to reset its adaptation.');
        return;
      }
      client?.reset(target.toString());
      inline.clearCache(target.toString());
      log.info(`adaptation reset for ${target.toString()}`);
      updateStatus();
    }),
    vscode.commands.registerCommand('fastweights.resetAllAdaptation', () => {
      client?.resetAll();
      inline.clearCache();
      log.info('adaptation reset for all files; the workspace index is built again');
      workspaceFeed.schedule();
      updateStatus();
    }),
    vscode.commands.registerCommand('fastweights.resetWorkspaceAdaptation', () => {
      inline.clearCache();
      log.info('workspace adaptation reset: the index is built again from the files as they are now');
      return workspaceFeed.rebuildNow(); // (tests wait for it)
    }),
    vscode.commands.registerCommand('fastweights.showAdaptationGain', async () => {
      const editor = vscode.window.activeTextEditor;
      const panel = GainPanel.show(
        {
          extensionUri: context.extensionUri,
          client: () => client,
          stats: () => completionStats,
          supports: isSupported,
        },
        editor?.document,
      );
      return panel;
    }),
    vscode.commands.registerCommand('fastweights.showMenu', async () => {
      const items: (vscode.QuickPickItem & { command: string; args?: unknown[] })[] = [
        ...completionMenuItems(vscode.window.activeTextEditor?.document.languageId),
        { label: '$(graph) Show Adaptation Gain', command: 'fastweights.showAdaptationGain' },
        { label: '$(discard) Reset Adaptation for This File', command: 'fastweights.resetFileAdaptation' },
        { label: '$(clear-all) Reset All Adaptation', command: 'fastweights.resetAllAdaptation' },
        {
          label: '$(gear) Execution Provider Setting',
          command: 'workbench.action.openSettings',
          args: ['fastweights.executionProvider'],
        },
        { label: '$(refresh) Reload Model', command: 'fastweights.reloadModel' },
        { label: '$(output) Show Log', command: 'fastweights.showLog' },
      ];
      const pick = await vscode.window.showQuickPick(items, { placeHolder: 'FastWeights' });
      if (pick) await vscode.commands.executeCommand(pick.command, ...(pick.args ?? []));
    }),
    vscode.commands.registerCommand('fastweights.showLog', () => log.show(true)),
    vscode.commands.registerCommand('fastweights.reloadModel', () => reloadModel('command')),
  );

  updateStatus();
  void loadRuntime();

  const api: FastWeightsApi = {
    get runtimeReady() {
      return runtimeReady;
    },
    get status() {
      return runtimeStatus;
    },
    get error() {
      return runtimeError;
    },
    get provider() {
      return client?.info?.provider;
    },
    get providerInfo() {
      return client?.info;
    },
    getDocumentState: (uri) => client?.documentState(uriString(uri)),
    whenDocumentStateReady: async (uri) => {
      await runtimeReady;
      await client?.whenIdle(uriString(uri));
      return client?.documentState(uriString(uri));
    },
    get lastCompletion() {
      return lastCompletion;
    },
    get completionCount() {
      return completionCount;
    },
    completionStats,
    completionPipeline: inline.pipeline,
    get gainPanelMessage() {
      return GainPanel.active?.lastMessage;
    },
    whenGainPanelDone: async () => GainPanel.active?.whenDone(),
    get gainPanelRendered() {
      return GainPanel.active?.lastRendered;
    },
    gainPanelReceive: async (message) => (await GainPanel.active?.receiveFromPage(message)) ?? false,
    get statusBar() {
      return { text: status.text, tooltip: typeof status.tooltip === 'string' ? status.tooltip : '' };
    },
    skipReason: (uri) => skipped.get(uriString(uri)),
    workspaceIndexStatus: () => workspaceStatus,
  };
  return api;
}

export function deactivate(): void {
  // Subscriptions dispose the states, the provider and the status bar item.
}
