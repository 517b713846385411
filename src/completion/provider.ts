/**
 * The VS Code adapter: turns the editor's inline-completion requests into pipeline requests (pipeline.ts
 * does the work) and the pipeline's suggestion into an InlineCompletionItem whose range covers the closing
 * characters it replaces and whose command reports the accept.
 */
import * as vscode from 'vscode';
import type { ModelClient } from '../host/client';
import { DocumentSnapshot } from './context';
import { modelFromClient } from './generate';
import { CompletionPipeline, Outcome } from './pipeline';
import { CompletionSettings, DEFAULT_SETTINGS, TriggerMode } from './settings';
import type { CompletionStats } from './stats';
import { whenCancelled } from './cancellation';

export interface CompletionRecord {
  uri: string;
  line: number;
  character: number;
  text: string;
  fromCache: boolean;
  /** The suggestion (generation) it belongs to: typing through it keeps the id. */
  id: number;
  /** Document version the suggestion was made for (the editor's version when it was shown). */
  version: number;
  ms: number;
  at: number;
}

export interface ProviderHost {
  client(): ModelClient | undefined;
  /** Resolves when the current model load has finished (successfully or not). */
  ready(): Promise<void>;
  log: vscode.LogOutputChannel;
  stats: CompletionStats;
  onCompletion?: (record: CompletionRecord) => void;
}

/** The command each item carries: VS Code runs it after the item was accepted in full. */
export const ACCEPTED_COMMAND = 'fastweights.suggestionAccepted';

/** `fastweights.*` settings as the pipeline wants them. */
export function readSettings(): CompletionSettings {
  const c = vscode.workspace.getConfiguration('fastweights');
  return {
    enable: c.get<Record<string, boolean>>('enable', DEFAULT_SETTINGS.enable),
    triggerMode: c.get<TriggerMode>('triggerMode', DEFAULT_SETTINGS.triggerMode),
    debounceMs: Math.max(0, c.get<number>('debounceMs', DEFAULT_SETTINGS.debounceMs)),
    maxLines: Math.max(1, Math.floor(c.get<number>('maxLines', DEFAULT_SETTINGS.maxLines))),
    minConfidence: Math.min(
      1,
      Math.max(0, c.get<number>('minStartProbability', DEFAULT_SETTINGS.minConfidence)),
    ),
    fileCache: c.get<boolean>('adaptation.fileCache', DEFAULT_SETTINGS.fileCache),
    workspace: c.get<boolean>('adaptation.workspace', DEFAULT_SETTINGS.workspace),
    minTokenProb: Math.min(
      1,
      Math.max(0, c.get<number>('minTokenProbability', DEFAULT_SETTINGS.minTokenProb)),
    ),
  };
}

export function snapshotOf(document: vscode.TextDocument, position: vscode.Position): DocumentSnapshot {
  return {
    uri: document.uri.toString(),
    languageId: document.languageId,
    text: document.getText(),
    cursor: document.offsetAt(position),
  };
}

export class FastWeightsInlineProvider implements vscode.InlineCompletionItemProvider {
  readonly pipeline: CompletionPipeline;

  constructor(private readonly host: ProviderHost) {
    this.pipeline = new CompletionPipeline({
      model: modelFromClient(() => host.client()),
      settings: readSettings,
      stats: host.stats,
      log: (m) => host.log.error(m),
    });
  }

  clearCache(uri?: string): void {
    this.pipeline.clear(uri);
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const kind = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 'manual' : 'automatic';
    if (!this.host.client()?.info) {
      // Typed before the model finished loading: wait for it rather than drop the request, since the
      // editor does not ask again until the next keystroke.
      const cancelled = whenCancelled(token);
      await Promise.race([this.host.ready(), cancelled.promise]);
      cancelled.dispose();
      if (token.isCancellationRequested) return undefined;
      if (!this.host.client()?.info) {
        if (kind === 'manual') this.host.log.info('no completion: the model is not loaded');
        return undefined;
      }
    }
    const version = document.version;
    const t0 = performance.now();
    const outcome: Outcome = await this.pipeline.provide(snapshotOf(document, position), kind, token);
    if (outcome.kind !== 'shown') {
      // Why an explicit ask (Alt+\\) showed nothing is worth a line at the default level.
      const line = `no completion at ${position.line + 1}:${position.character + 1}: ${outcome.reason}`;
      if (kind === 'manual') this.host.log.info(line);
      else this.host.log.trace(line);
      return undefined;
    }
    // The document moved on while the model ran: this suggestion is for text that is gone.
    if (token.isCancellationRequested || document.version !== version) return undefined;
    const s = outcome.suggestion;
    const ms = performance.now() - t0;
    this.host.log.trace(
      `completion at ${position.line + 1}:${position.character + 1}: ${JSON.stringify(s.text)} ` +
        `(${s.fromCache ? 'cache' : 'model'}, ${ms.toFixed(0)} ms)`,
    );
    this.host.onCompletion?.({
      uri: s.uri,
      line: position.line,
      character: position.character,
      text: s.text,
      fromCache: s.fromCache,
      id: s.id,
      version,
      ms,
      at: Date.now(),
    });
    const range = new vscode.Range(position, document.positionAt(s.replaceEnd));
    return [
      new vscode.InlineCompletionItem(s.text, range, {
        command: ACCEPTED_COMMAND,
        title: 'Suggestion accepted',
        arguments: [s.id, s.uri, s.text.length],
      }),
    ];
  }
}
