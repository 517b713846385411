/**
 * "FastWeights: Show Adaptation Gain": a webview beside the editor that follows the active file. The host
 * evaluates the file with the runtime's own evaluator (the same code as `fastweights eval`, in the model
 * worker at background priority), re-evaluates while the user types (throttled), and sends the page a
 * GainView with every number; the page (media/gain.js) only renders it.
 */
import * as vscode from 'vscode';
import { ModelClient, RequestCancelled } from '../host/client';
import type { EvaluationResult } from '../host/protocol';
import { gainPct, lineBlocks, LineBlocks } from './blocks';
import { panelHtml } from './html';
import {
  GainView,
  PageMessage,
  PanelMessage,
  parsePageMessage,
  RenderedHeadline,
  StateStatus,
} from './messages';
import { modelFacts } from './modelFacts';
import type { CompletionStatsSource } from './statsSource';
import { Throttle } from './throttle';

export type { GainView, PanelMessage } from './messages';

/** Tokens scored at most by the panel (the evaluation is exact and costs a few ms per token). */
export const PANEL_MAX_TOKENS = 4096;
/** Re-evaluate this long after typing stops, and at least this often while it goes on. */
const TYPING_QUIET_MS = 1000;
const TYPING_MAX_WAIT_MS = 5000;

export interface GainPanelDeps {
  extensionUri: vscode.Uri;
  /** The current model client (it changes when the execution provider setting does). */
  client: () => ModelClient | undefined;
  /** Completion statistics, once the completion pipeline provides them. */
  stats: () => CompletionStatsSource | undefined;
  /** Documents the extension completes in: the panel follows only those. */
  supports: (document: vscode.TextDocument) => boolean;
}

interface Evaluation {
  uri: string;
  version: number;
  result: EvaluationResult;
  blocks: LineBlocks;
}

export class GainPanel {
  private static current: GainPanel | undefined;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly throttle: Throttle;
  private document: vscode.TextDocument | undefined;
  private evaluation: Evaluation | undefined;
  private progress: { done: number; total: number } | null = null;
  private job: vscode.CancellationTokenSource | undefined;
  private failure: string | undefined;
  /** The last evaluation found no model loaded: retry when states start to build. */
  private waitingForModel = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private unsubscribeStats: (() => void) | undefined;
  private subscribedStats: CompletionStatsSource | undefined;
  /** Last message sent, for tests and for a page that reloads. */
  lastMessage: PanelMessage | undefined;
  /** What the page last reported showing in its headline. */
  lastRendered: RenderedHeadline | undefined;

  /** Opens (or reveals) the panel on `document` and starts its evaluation. */
  static show(deps: GainPanelDeps, document: vscode.TextDocument | undefined): GainPanel {
    if (!GainPanel.current) GainPanel.current = new GainPanel(deps);
    else GainPanel.current.panel.reveal(vscode.ViewColumn.Beside, true);
    GainPanel.current.follow(document, true);
    return GainPanel.current;
  }

  static get active(): GainPanel | undefined {
    return GainPanel.current;
  }

  /** A document's adaptation state changed (built, rebuilding, reset): refresh the state line. */
  static stateChanged(uri: string): void {
    const p = GainPanel.current;
    if (!p) return;
    if (p.waitingForModel && p.deps.client()?.info) {
      p.waitingForModel = false;
      p.throttle.runNow();
    }
    // Other files' states count in the memory figure.
    if (p.document?.uri.toString() === uri || p.lastMessage?.type === 'report') p.scheduleRefresh();
  }

  private constructor(private readonly deps: GainPanelDeps) {
    const media = vscode.Uri.joinPath(deps.extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(
      'fastweights.gain',
      'FastWeights: Adaptation Gain',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [media], retainContextWhenHidden: false },
    );
    this.panel.iconPath = vscode.Uri.joinPath(media, 'icon.png');
    const webview = this.panel.webview;
    this.panel.webview.html = panelHtml({
      cspSource: webview.cspSource,
      script: webview.asWebviewUri(vscode.Uri.joinPath(media, 'gain.js')).toString(),
      style: webview.asWebviewUri(vscode.Uri.joinPath(media, 'gain.css')).toString(),
    });
    this.throttle = new Throttle(() => this.evaluate(), TYPING_QUIET_MS, TYPING_MAX_WAIT_MS);
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => {
        const message = parsePageMessage(raw);
        if (message) void this.receive(message);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        // Focus moving to the panel itself (no text editor) keeps the file it shows.
        if (editor && editor.document !== this.document) this.follow(editor.document, false);
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document !== this.document || e.contentChanges.length === 0) return;
        this.throttle.request();
        this.scheduleRefresh();
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (doc === this.document) this.follow(undefined, false);
      }),
    );
    this.panel.onDidDispose(() => this.disposeResources());
  }

  /** Set once the panel is closed: nothing is posted to its webview after that. */
  private disposed = false;

  dispose(): void {
    this.panel.dispose();
  }

  /** True while an evaluation runs or waits to run. */
  get busy(): boolean {
    return this.throttle.busy || this.job !== undefined;
  }

  /** Resolves with the last message once no evaluation is running or waiting. */
  async whenDone(): Promise<PanelMessage | undefined> {
    while (GainPanel.current === this && this.busy) await new Promise((r) => setTimeout(r, 50));
    return this.lastMessage;
  }

  /** Handles a message as if the page had sent it (the same validation): for tests. */
  async receiveFromPage(raw: unknown): Promise<boolean> {
    const message = parsePageMessage(raw);
    if (message) await this.receive(message);
    return message !== undefined;
  }

  private async receive(message: PageMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        if (this.lastMessage) void this.panel.webview.postMessage(this.lastMessage);
        return;
      case 'rendered':
        this.lastRendered = message.headline;
        return;
      case 'reveal':
        return this.reveal(message.startLine, message.endLine);
      case 'resetFile':
        if (this.document)
          await vscode.commands.executeCommand('fastweights.resetFileAdaptation', this.document.uri);
        return this.refresh();
      case 'resetAll':
        await vscode.commands.executeCommand('fastweights.resetAllAdaptation');
        return this.refresh();
    }
  }

  private async reveal(startLine: number, endLine: number): Promise<void> {
    const doc = this.document;
    if (!doc) return;
    const last = doc.lineCount - 1;
    const start = new vscode.Position(Math.min(startLine, last), 0);
    const end = doc.lineAt(Math.min(endLine, last)).range.end;
    const visible = vscode.window.visibleTextEditors.find((e) => e.document === doc);
    const editor = await vscode.window.showTextDocument(doc, visible?.viewColumn ?? vscode.ViewColumn.One);
    // The block selected, with the cursor on its first line.
    editor.selection = new vscode.Selection(end, start);
    editor.revealRange(new vscode.Range(start, end), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private follow(document: vscode.TextDocument | undefined, force: boolean): void {
    const usable = document && this.deps.supports(document) ? document : undefined;
    if (!usable && document && !force) return; // an unsupported editor: keep showing the last file
    if (usable === this.document && !force) return;
    this.job?.cancel();
    this.document = usable;
    this.evaluation = undefined;
    this.failure = undefined;
    this.progress = null;
    if (usable) this.throttle.runNow();
    else
      this.post({ type: 'empty', message: 'Open a TypeScript, JavaScript or Python file to see its gain.' });
  }

  private async evaluate(): Promise<void> {
    const doc = this.document;
    const client = this.deps.client();
    if (!doc) return;
    if (!client?.info) {
      this.waitingForModel = true;
      this.post({ type: 'error', message: 'The model is not loaded (see the FastWeights output).' });
      return;
    }
    const job = new vscode.CancellationTokenSource();
    this.job = job;
    const uri = doc.uri.toString();
    const version = doc.version;
    const text = doc.getText();
    this.progress = { done: 0, total: 0 };
    this.refresh();
    try {
      const result = await client.evaluate(
        text,
        PANEL_MAX_TOKENS,
        job.token,
        (done, total) => {
          this.progress = { done, total };
          this.refresh();
        },
        uri,
      );
      if (job.token.isCancellationRequested || doc !== this.document) return;
      const blocks = result.perToken
        ? lineBlocks(text, result.perToken)
        : { linesPerBlock: doc.lineCount, blocks: [] };
      this.evaluation = { uri, version, result, blocks };
      this.failure = undefined;
    } catch (err) {
      if (err instanceof RequestCancelled || job.token.isCancellationRequested) return;
      this.failure = err instanceof Error ? err.message : String(err);
    } finally {
      if (this.job === job) {
        this.job = undefined;
        this.progress = null;
        this.refresh();
      }
      job.dispose();
    }
  }

  /** Coalesces bursts of state and statistics events into one message. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, 100);
  }

  private refresh(): void {
    this.watchStats();
    const doc = this.document;
    if (!doc) return;
    if (this.failure) return this.post({ type: 'error', message: this.failure });
    const view = this.evaluation && this.view(doc, this.evaluation);
    if (view) return this.post({ type: 'report', report: view });
    const file = vscode.workspace.asRelativePath(doc.uri);
    this.post({ type: 'progress', file, done: this.progress?.done ?? 0, total: this.progress?.total ?? 0 });
  }

  private view(doc: vscode.TextDocument, ev: Evaluation): GainView | undefined {
    const client = this.deps.client();
    const info = client?.info;
    if (!client || !info) return undefined;
    const s = ev.result;
    const bpb = (bits: number | undefined): number => (s.bytes > 0 ? (bits ?? 0) / s.bytes : 0);
    const st = bpb(s.staticBits);
    const ad = bpb(s.adaptedBits);
    const wf = bpb(s.wholeFileBits);
    const state = this.stateOf(client, doc);
    // An empty state adapts nothing: completions then get the static model's figures.
    const live = state.tokens > 0;
    const cacheOn = vscode.workspace
      .getConfiguration('fastweights')
      .get<boolean>('adaptation.fileCache', true);
    const wfCache = s.cacheBits?.wholeFile;
    const withRepository = s.workspaceBits;
    const stats = this.deps.stats();
    const facts = modelFacts(info.modelDir);
    const states = this.statesMemory(client);
    return {
      file: vscode.workspace.asRelativePath(doc.uri),
      uri: ev.uri,
      language: doc.languageId,
      evaluatedVersion: ev.version,
      outdated: doc.version !== ev.version,
      evaluating: this.progress,
      tokens: s.tokens,
      bytes: s.bytes,
      fileTokens: s.fileTokens,
      truncated: s.fileTokens > s.tokens,
      staticBitsPerByte: st,
      adaptedBitsPerByte: live ? ad : st,
      wholeFileBitsPerByte: live ? wf : st,
      gainPct: live ? gainPct(st, ad) : 0,
      wholeFileGainPct: live ? gainPct(st, wf) : 0,
      fileCache:
        live && cacheOn && wfCache !== undefined
          ? { bitsPerByte: bpb(wfCache), gainPct: gainPct(st, bpb(wfCache)) }
          : null,
      repository:
        live && cacheOn && withRepository !== undefined
          ? {
              bitsPerByte: bpb(withRepository),
              gainPct: gainPct(st, bpb(withRepository)),
              files: (s.repositoryFiles ?? []).map((u) =>
                vscode.workspace.asRelativePath(vscode.Uri.parse(u)),
              ),
            }
          : null,
      evaluated: { adaptedBitsPerByte: ad, wholeFileBitsPerByte: wf, gainPct: gainPct(st, ad) },
      state,
      linesPerBlock: ev.blocks.linesPerBlock,
      blocks: live
        ? ev.blocks.blocks
        : ev.blocks.blocks.map((b) => ({
            ...b,
            adaptedBitsPerByte: b.staticBitsPerByte,
            wholeFileBitsPerByte: b.staticBitsPerByte,
            gainPct: 0,
            bitsSaved: 0,
          })),
      completions: stats ? { file: stats.forFile(ev.uri), session: stats.session() } : null,
      runtime: {
        provider: info.provider.toUpperCase(),
        requested: info.requested,
        fallbackReason: info.fallbackReason ?? null,
        model: info.modelName,
        precision: info.precision,
        modelShape: facts.shape,
        modelDiskBytes: facts.diskBytes,
        statesBytes: states.bytes,
        statesCount: states.count,
      },
      seconds: s.ms / 1000,
    };
  }

  private stateOf(client: ModelClient, doc: vscode.TextDocument): GainView['state'] {
    const info = client.documentState(doc.uri.toString());
    let status: StateStatus;
    if (!info) status = 'none';
    else if (info.building) status = 'rebuilding';
    else if (info.tokens === 0) status = info.dropped ? 'dropped' : 'empty';
    else if (info.builtVersion !== doc.version)
      status = 'rebuilding'; // an edit's rebuild is pending
    else status = info.folded ? 'folded' : 'current';
    return { status, tokens: info?.tokens ?? 0, bytes: info?.bytes ?? 0 };
  }

  /** Memory held by the states of open documents (states are dropped when documents close). */
  private statesMemory(client: ModelClient): { bytes: number; count: number } {
    let bytes = 0;
    let count = 0;
    for (const doc of vscode.workspace.textDocuments) {
      const info = client.documentState(doc.uri.toString());
      if (!info) continue;
      bytes += info.bytes;
      if (info.tokens > 0) count++;
    }
    return { bytes, count };
  }

  /** Subscribes to the statistics once they exist (the pipeline may hand them over after the panel opened). */
  private watchStats(): void {
    const stats = this.deps.stats();
    if (stats === this.subscribedStats) return;
    this.unsubscribeStats?.();
    this.subscribedStats = stats;
    this.unsubscribeStats = stats?.onDidChange(() => this.scheduleRefresh());
  }

  private post(message: PanelMessage): void {
    // An evaluation's progress may still arrive from the worker after the panel was closed: the webview
    // is gone then, and touching it throws.
    if (this.disposed) return;
    this.lastMessage = message;
    void this.panel.webview.postMessage(message);
  }

  private disposeResources(): void {
    this.disposed = true;
    this.job?.cancel();
    this.throttle.dispose();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.unsubscribeStats?.();
    for (const d of this.disposables) d.dispose();
    if (GainPanel.current === this) GainPanel.current = undefined;
  }
}
