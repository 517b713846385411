/**
 * "FastWeights: Show Adaptation Gain": a webview with the active file's bits per byte without and with
 * adaptation, and how many tokens the file's state holds. The page (media/gain.js) only renders what the
 * host sends; all numbers are computed here with the runtime's evaluator.
 */
import * as vscode from 'vscode';
import { ModelClient, RequestCancelled } from '../host/client';

export interface GainReport {
  file: string;
  language: string;
  tokens: number;
  bytes: number;
  truncated: boolean;
  static_bits_per_byte: number;
  adapted_bits_per_byte: number;
  adapted_whole_file_bits_per_byte: number;
  gain_pct: number;
  whole_file_gain_pct: number;
  state_tokens: number;
  provider: string;
  model: string;
  seconds: number;
}

export type PanelMessage =
  | { type: 'progress'; file: string; done: number; total: number }
  | { type: 'report'; report: GainReport }
  | { type: 'error'; message: string }
  | { type: 'empty'; message: string };

/** Tokens scored at most by the panel (the evaluation is exact and costs a few ms per token). */
export const PANEL_MAX_TOKENS = 4096;

export class GainPanel {
  private static current: GainPanel | undefined;
  private readonly panel: vscode.WebviewPanel;
  private job: vscode.CancellationTokenSource | undefined;
  /** Last message sent, for tests and for a page that reloads. */
  lastMessage: PanelMessage | undefined;

  static show(
    extensionUri: vscode.Uri,
    client: ModelClient | undefined,
    document: vscode.TextDocument | undefined,
  ): GainPanel {
    if (!GainPanel.current) GainPanel.current = new GainPanel(extensionUri);
    else GainPanel.current.panel.reveal(vscode.ViewColumn.Beside, true);
    void GainPanel.current.update(client, document);
    return GainPanel.current;
  }

  static get active(): GainPanel | undefined {
    return GainPanel.current;
  }

  private constructor(private readonly extensionUri: vscode.Uri) {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(
      'fastweights.gain',
      'FastWeights: Adaptation Gain',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [media], retainContextWhenHidden: false },
    );
    this.panel.iconPath = vscode.Uri.joinPath(media, 'icon.png');
    this.panel.webview.html = this.html();
    this.panel.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type === 'ready' && this.lastMessage) void this.panel.webview.postMessage(this.lastMessage);
    });
    this.panel.onDidDispose(() => {
      this.job?.cancel();
      GainPanel.current = undefined;
    });
  }

  dispose(): void {
    this.panel.dispose();
  }

  private post(message: PanelMessage): void {
    this.lastMessage = message;
    void this.panel.webview.postMessage(message);
  }

  /** Evaluates the document and sends the report; resolves when done (or superseded). */
  async update(client: ModelClient | undefined, document: vscode.TextDocument | undefined): Promise<void> {
    this.job?.cancel();
    if (!client?.info) {
      return this.post({ type: 'error', message: 'The model is not loaded (see the FastWeights output).' });
    }
    if (!document)
      return this.post({ type: 'empty', message: 'Open a code file, then run this command again.' });
    const job = new vscode.CancellationTokenSource();
    this.job = job;
    const file = vscode.workspace.asRelativePath(document.uri);
    const uri = document.uri.toString();
    this.post({ type: 'progress', file, done: 0, total: 0 });
    try {
      const s = await client.evaluate(document.getText(), PANEL_MAX_TOKENS, job.token, (done, total) =>
        this.post({ type: 'progress', file, done, total }),
      );
      // A file that was just opened may still be building its state: give it a moment for the count.
      await Promise.race([client.whenIdle(uri), new Promise((r) => setTimeout(r, 5000))]);
      if (job.token.isCancellationRequested) return;
      const bpb = (bits: number | undefined): number => (s.bytes > 0 ? (bits ?? 0) / s.bytes : 0);
      const st = bpb(s.staticBits);
      const ad = bpb(s.adaptedBits);
      const wf = bpb(s.wholeFileBits);
      this.post({
        type: 'report',
        report: {
          file,
          language: document.languageId,
          tokens: s.tokens,
          bytes: s.bytes,
          truncated: s.fileTokens > s.tokens,
          static_bits_per_byte: st,
          adapted_bits_per_byte: ad,
          adapted_whole_file_bits_per_byte: wf,
          gain_pct: st > 0 ? ((st - ad) / st) * 100 : 0,
          whole_file_gain_pct: st > 0 ? ((st - wf) / st) * 100 : 0,
          state_tokens: client.documentState(uri)?.tokens ?? 0,
          provider: client.info.provider.toUpperCase(),
          model: client.info.modelName,
          seconds: s.ms / 1000,
        },
      });
    } catch (err) {
      if (err instanceof RequestCancelled) return;
      this.post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    } finally {
      if (this.job === job) this.job = undefined;
      job.dispose();
    }
  }

  private html(): string {
    const webview = this.panel.webview;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'gain.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'gain.css'));
    const nonce = makeNonce();
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource}`,
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>FastWeights: Adaptation Gain</title>
</head>
<body>
<main id="root" aria-live="polite">
  <h1>Adaptation gain</h1>
  <p class="muted" id="status">Waiting for the evaluation...</p>
</main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }
}

function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars.charAt(Math.floor(Math.random() * chars.length));
  return s;
}
