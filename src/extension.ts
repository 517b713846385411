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
import { CompletionRecord, FastWeightsInlineProvider } from './completion/provider';
import { GainPanel, PanelMessage } from './panel/gainPanel';

export const LANGUAGES = ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'python'];

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
  readonly completionCount: number;
  /** The gain panel's last message, when the panel is open. */
  readonly gainPanelMessage: PanelMessage | undefined;
  /** Resolves when the gain panel has a final report or error. */
  whenGainPanelDone(): Promise<PanelMessage | undefined>;
}

function isSupported(doc: vscode.TextDocument): boolean {
  return (
    LANGUAGES.includes(doc.languageId) &&
    (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled' || doc.uri.scheme === 'vscode-remote')
  );
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
  let runtimeError: string | undefined;
  let lastCompletion: CompletionRecord | undefined;
  let completionCount = 0;
  let generation = 0;

  context.subscriptions.push({
    dispose: () => {
      generation++;
      void client?.dispose();
      client = undefined;
    },
  });

  function updateStatus(): void {
    const editor = vscode.window.activeTextEditor;
    const provider = client?.info?.provider.toUpperCase() ?? '';
    if (runtimeStatus === 'loading') {
      status.text = '$(loading~spin) FastWeights';
      status.tooltip = 'FastWeights: loading the model...';
      status.backgroundColor = undefined;
    } else if (runtimeStatus === 'error') {
      status.text = '$(error) FastWeights';
      status.tooltip = `FastWeights: ${runtimeError ?? 'error'} (click for the menu, see the FastWeights output)`;
      status.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (!editor || !isSupported(editor.document)) {
      status.text = `$(circle-slash) FastWeights ${provider}`;
      status.tooltip = `FastWeights: off for this editor (suggests in ${LANGUAGES.join(', ')}); runs on ${provider}`;
      status.backgroundColor = undefined;
    } else {
      const info = client?.documentState(editor.document.uri.toString());
      const adapting = (client?.busy ?? 0) > 0 || (info?.building ?? false);
      status.text = adapting ? `$(sync~spin) FastWeights ${provider}` : `$(check) FastWeights ${provider}`;
      status.tooltip =
        `FastWeights: ${adapting ? 'adapting to the file' : 'ready'} on ${provider}` +
        (info ? `; state from ${info.tokens} tokens` : '') +
        (client?.info?.fallbackReason ? `\n${client.info.fallbackReason}` : '');
      status.backgroundColor = undefined;
    }
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
      workerPath: path.join(context.extensionPath, 'out', 'worker.js'),
      log: (level, message) => log[level](message),
      onBusyChange: () => updateStatus(),
      onStateChange: () => updateStatus(),
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
      for (const doc of vscode.workspace.textDocuments) if (isSupported(doc)) docChanged(doc, 0);
    } catch (err) {
      void next.dispose();
      if (my !== generation) return;
      runtimeStatus = 'error';
      runtimeError = err instanceof Error ? err.message : String(err);
      log.error(`could not load the model: ${runtimeError}`);
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

  const inline = new FastWeightsInlineProvider({
    client: () => client,
    ready: () => runtimeReady,
    log,
    onCompletion: (r) => {
      lastCompletion = r;
      completionCount++;
    },
  });
  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider(
      LANGUAGES.map((language) => ({ language })),
      inline,
    ),
  );

  /** Schedules a rebuild of a document's state (debounced after edits; `delayMs` 0 for open/focus). */
  function docChanged(doc: vscode.TextDocument, delayMs?: number): void {
    client?.documentChanged(doc.uri.toString(), doc.version, () => doc.getText(), delayMs);
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
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor && isSupported(editor.document)) docChanged(editor.document, 0);
      updateStatus();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('fastweights.executionProvider')) {
        runtimeReady = new Promise<void>((r) => (resolveReady = r));
        void loadRuntime();
      }
    }),
  );

  const uriString = (uri: vscode.Uri | string): string => (typeof uri === 'string' ? uri : uri.toString());

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
      log.info('adaptation reset for all files');
      updateStatus();
    }),
    vscode.commands.registerCommand('fastweights.showAdaptationGain', async () => {
      const editor = vscode.window.activeTextEditor;
      const panel = GainPanel.show(context.extensionUri, client, editor?.document);
      return panel;
    }),
    vscode.commands.registerCommand('fastweights.showMenu', async () => {
      const items: (vscode.QuickPickItem & { command: string; args?: unknown[] })[] = [
        { label: '$(graph) Show Adaptation Gain', command: 'fastweights.showAdaptationGain' },
        { label: '$(discard) Reset Adaptation for This File', command: 'fastweights.resetFileAdaptation' },
        { label: '$(clear-all) Reset All Adaptation', command: 'fastweights.resetAllAdaptation' },
        {
          label: '$(gear) Execution Provider Setting',
          command: 'workbench.action.openSettings',
          args: ['fastweights.executionProvider'],
        },
        { label: '$(output) Show Log', command: 'fastweights.showLog' },
      ];
      const pick = await vscode.window.showQuickPick(items, { placeHolder: 'FastWeights' });
      if (pick) await vscode.commands.executeCommand(pick.command, ...(pick.args ?? []));
    }),
    vscode.commands.registerCommand('fastweights.showLog', () => log.show(true)),
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
    get gainPanelMessage() {
      return GainPanel.active?.lastMessage;
    },
    whenGainPanelDone: async () => {
      for (;;) {
        const m = GainPanel.active?.lastMessage;
        if (!GainPanel.active || (m && m.type !== 'progress')) return m;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  return api;
}

export function deactivate(): void {
  // Subscriptions dispose the states, the provider and the status bar item.
}
