/**
 * The VS Code adapter: inline completion items from the runtime, with a short debounce, cancellation,
 * the typing-through cache and the per-document fast-weight state.
 */
import * as vscode from 'vscode';
import { ModelClient, RequestCancelled } from '../host/client';
import { SuggestionCache } from './cache';
import { fitSuggestion, isRepetition, shouldSuggest } from './policy';

export interface CompletionRecord {
  uri: string;
  line: number;
  character: number;
  text: string;
  fromCache: boolean;
  adapted: boolean;
  stateTokens: number;
  tokens: number;
  ms: number;
  at: number;
}

export interface ProviderHost {
  client(): ModelClient | undefined;
  /** Resolves when the current model load has finished (successfully or not). */
  ready(): Promise<void>;
  log: vscode.LogOutputChannel;
  onCompletion?: (record: CompletionRecord) => void;
}

/** Bytes of the document before the cursor fed to the prompt builder at most. */
const MAX_PREFIX_CHARS = 16384;

export class FastWeightsInlineProvider implements vscode.InlineCompletionItemProvider {
  private readonly cache = new SuggestionCache();
  /** Wait after a keystroke before asking the model (a newer keystroke cancels the request). */
  debounceMs = 60;
  maxTokens = 48;

  constructor(private readonly host: ProviderHost) {}

  clearCache(uri?: string): void {
    this.cache.clear(uri);
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    let client = this.host.client();
    if (!client?.info) {
      // Typed before the model finished loading: wait for it rather than drop the request, since the
      // editor does not ask again until the next keystroke.
      await Promise.race([this.host.ready(), whenCancelled(token)]);
      client = this.host.client();
      if (token.isCancellationRequested || !client?.info) return undefined;
    }
    const t0 = performance.now();
    const line = document.lineAt(position.line).text;
    const lineSuffix = line.slice(position.character);
    if (!shouldSuggest(lineSuffix)) return undefined;
    const uri = document.uri.toString();
    const start = document.positionAt(Math.max(0, document.offsetAt(position) - MAX_PREFIX_CHARS));
    const prefix = document.getText(new vscode.Range(start, position));
    const linePrefix = line.slice(0, position.character);

    let text = this.cache.lookup(uri, prefix);
    const fromCache = text !== undefined;
    let tokens = 0;
    let stateTokens = 0;
    let timing = 'cache';
    if (text === undefined) {
      if (this.debounceMs > 0) await new Promise((r) => setTimeout(r, this.debounceMs));
      if (token.isCancellationRequested) return undefined;
      try {
        const c = await client.complete(uri, prefix, this.maxTokens, token);
        if (c.cancelled) return undefined;
        text = c.text;
        tokens = c.tokens;
        stateTokens = c.stateTokens;
        timing =
          `wait ${c.waitMs.toFixed(0)} ms, prefill ${c.promptTokens} tokens (${c.cachedPromptTokens} cached) ` +
          `${c.prefillMs.toFixed(0)} ms, ` +
          `${c.tokens} tokens ${c.decodeMs.toFixed(0)} ms, state ${c.stateTokens} tokens`;
      } catch (err) {
        if (!(err instanceof RequestCancelled)) {
          this.host.log.error(`completion failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        return undefined;
      }
      this.cache.store(uri, prefix, text);
    }
    const fitted = fitSuggestion(text, lineSuffix);
    const ms = performance.now() - t0;
    this.host.log.trace(
      `completion at ${position.line + 1}:${position.character + 1}: ${JSON.stringify(text)} ` +
        `(${timing}; ${ms.toFixed(0)} ms in all)`,
    );
    if (!fitted || isRepetition(fitted.text, linePrefix) || token.isCancellationRequested) return undefined;
    this.host.onCompletion?.({
      uri,
      line: position.line,
      character: position.character,
      text: fitted.text,
      fromCache,
      adapted: stateTokens > 0,
      stateTokens,
      tokens,
      ms,
      at: Date.now(),
    });
    const range = new vscode.Range(position, position.translate(0, fitted.replaceSuffix));
    return [new vscode.InlineCompletionItem(fitted.text, range)];
  }
}

function whenCancelled(token: vscode.CancellationToken): Promise<void> {
  return new Promise((resolve) => {
    if (token.isCancellationRequested) resolve();
    const sub = token.onCancellationRequested(() => {
      sub.dispose();
      resolve();
    });
  });
}
