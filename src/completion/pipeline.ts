/**
 * The completion pipeline, free of the editor API: trigger -> context -> cache -> debounce -> cancel the
 * older request -> generate -> post-process -> show, and after an accept the next suggestion is prepared
 * speculatively. The VS Code provider (provider.ts) and the replay tool (src/replay/) both drive this class.
 */
import { CacheHit, SuggestionCache } from './cache';
import {
  CancellationSignal,
  LatestRequest,
  CancellationSource,
  NEVER_CANCELLED,
  whenCancelled,
} from './cancellation';
import { buildContext, CompletionContext, DocumentSnapshot } from './context';
import { debounce, realSleep, Sleep } from './debounce';
import { CompletionModel, generationRequest, SuggestionOrigin } from './generate';
import { linesAllowed, shouldSuggest } from './policy';
import { cleanText } from './postprocess/clean';
import { DropReason, postprocess } from './postprocess';
import { CompletionSettings } from './settings';
import type { GenerationSignals } from './showFeatures';
import { ShownSuggestion, ShownSuggestions } from './show';
import type { CompletionStats } from './stats';
import { decideTrigger, TriggerKind } from './trigger';

export interface PipelineOptions {
  model: CompletionModel;
  /** Read on every request, so setting changes apply at once. */
  settings: () => CompletionSettings;
  stats?: CompletionStats;
  /** Use each document's fast-weight state (default true; false: the static model). */
  adapt?: boolean;
  sleep?: Sleep;
  now?: () => number;
  log?: (message: string) => void;
}

export type NoSuggestion = 'off' | 'policy' | 'manual-mode' | 'cancelled' | 'error' | DropReason;

export type Outcome = { kind: 'shown'; suggestion: ShownSuggestion } | { kind: 'none'; reason: NoSuggestion };

/** What the pipeline did since it was made (tests and the replay tool read these). */
export interface PipelineCounters {
  requests: number;
  cacheHits: number;
  /** Generations started (after the debounce). */
  generations: number;
  /** Generations aborted by a cancelled token before they finished. */
  aborted: number;
  /** Requests cancelled during the debounce (no generation started). */
  debounced: number;
  shown: number;
  speculative: number;
  /** Generations not shown because the model was unsure (below minConfidence). */
  unsure: number;
}

interface Generation {
  text: string;
  id: number;
  confidence: number;
  origin: SuggestionOrigin;
  /** What the decoder said about a fresh generation of a real model (the replay records it). */
  signals?: GenerationSignals;
}

interface InFlight {
  prefix: string;
  lines: number;
  source: CancellationSource;
  promise: Promise<Generation | undefined>;
}

export class CompletionPipeline {
  private readonly cache = new SuggestionCache();
  private readonly latest = new LatestRequest();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly shownSuggestions: ShownSuggestions;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  readonly counters: PipelineCounters = {
    requests: 0,
    cacheHits: 0,
    generations: 0,
    aborted: 0,
    debounced: 0,
    shown: 0,
    speculative: 0,
    unsure: 0,
  };

  constructor(private readonly opts: PipelineOptions) {
    this.shownSuggestions = new ShownSuggestions(opts.stats);
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The last request's outcome (what the log and the tests look at). */
  lastOutcome: Outcome | undefined;

  /** A suggestion for the cursor of `doc`, or why there is none. */
  async provide(doc: DocumentSnapshot, kind: TriggerKind, token: CancellationSignal): Promise<Outcome> {
    this.counters.requests++;
    const outcome = await this.run(doc, kind, token);
    this.lastOutcome = outcome;
    return outcome;
  }

  private async run(doc: DocumentSnapshot, kind: TriggerKind, token: CancellationSignal): Promise<Outcome> {
    const settings = this.opts.settings();
    const decision = decideTrigger(settings, doc.languageId, kind);
    if (decision === 'off') return none('off');
    const ctx = buildContext(doc);
    if (!shouldSuggest(ctx.lineSuffix)) return none('policy');

    const hit = this.cache.find(ctx.uri, ctx.prefix);
    if (hit) {
      // "Nothing here" (no text, or text post-processing drops) is remembered for typing, but a user who
      // asks (Alt+\\) gets a fresh try: the file's state may have been built or changed since.
      const cached = this.fromCache(hit, ctx, settings);
      if (cached.kind === 'shown' || kind !== 'manual') return cached;
    }
    if (decision === 'cache-only') return none('manual-mode');

    const lines = linesAllowed(ctx, settings.maxLines);
    const t0 = this.now();
    let generated: Generation | undefined;
    try {
      const asked = kind === 'manual';
      generated = await this.generate(ctx, lines, asked ? 0 : settings.debounceMs, token, asked);
    } catch (e) {
      this.opts.log?.(`completion failed: ${e instanceof Error ? e.message : String(e)}`);
      return none('error');
    }
    // A newer keystroke made this request stale: never show its result.
    if (!generated || token.isCancellationRequested) return none('cancelled');
    return this.present(generated, ctx, lines, false, this.now() - t0);
  }

  /**
   * The user accepted `chars` characters of suggestion `id`. With the document as it is after the accept,
   * the next suggestion is prepared at once (no debounce), so it is ready when the editor asks.
   */
  accepted(id: number, uri: string, chars: number, after?: DocumentSnapshot): void {
    this.shownSuggestions.accept(id, uri, chars);
    if (after) this.speculate(after);
  }

  /** Starts generating for `doc` without showing anything; a later request for the same prefix waits on it. */
  speculate(doc: DocumentSnapshot): void {
    const settings = this.opts.settings();
    if (decideTrigger(settings, doc.languageId, 'automatic') !== 'go') return;
    const ctx = buildContext(doc);
    if (!shouldSuggest(ctx.lineSuffix) || this.cache.find(ctx.uri, ctx.prefix)) return;
    this.counters.speculative++;
    this.generate(ctx, linesAllowed(ctx, settings.maxLines), 0, NEVER_CANCELLED).catch((e: unknown) =>
      this.opts.log?.(`speculative completion failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  /** Forgets cached suggestions (of one document, or all) and cancels their requests. */
  clear(uri?: string): void {
    this.cache.clear(uri);
    if (uri === undefined) this.latest.cancelAll();
    else this.latest.cancel(uri);
  }

  private fromCache(hit: CacheHit, ctx: CompletionContext, settings: CompletionSettings): Outcome {
    this.counters.cacheHits++;
    // A request still running for an older prefix of this document is stale now.
    const running = this.inFlight.get(ctx.uri);
    if (running && running.prefix !== ctx.prefix) running.source.cancel();
    const lines = hit.text.includes('\n') ? settings.maxLines : 1;
    return this.present(hit, ctx, lines, true, undefined);
  }

  /** Debounce, then one generation per document at a time: a newer prefix cancels the older request. */
  private async generate(
    ctx: CompletionContext,
    lines: number,
    debounceMs: number,
    token: CancellationSignal,
    asked = false,
  ): Promise<Generation | undefined> {
    const running = this.inFlight.get(ctx.uri);
    if (running && running.prefix === ctx.prefix && running.lines >= lines && !running.source.isCancelled) {
      const cancelled = whenCancelled(token);
      try {
        return await Promise.race([running.promise, cancelled.promise.then(() => undefined)]);
      } finally {
        cancelled.dispose();
      }
    }
    const source = this.latest.begin(ctx.uri);
    const link = token.onCancellationRequested(() => source.cancel());
    if (token.isCancellationRequested) source.cancel();
    const run = async (): Promise<Generation | undefined> => {
      try {
        if (!(await debounce(debounceMs, source.token, this.sleep))) {
          this.counters.debounced++;
          return undefined;
        }
        this.counters.generations++;
        const settings = this.opts.settings();
        const request = generationRequest(
          ctx,
          lines,
          this.opts.adapt ?? true,
          settings.fileCache,
          settings.minTokenProb,
          settings.workspace,
        );
        const g = await this.opts.model.generate(request, source.token);
        if (g.cancelled) {
          this.counters.aborted++;
          return undefined;
        }
        // An unsure suggestion is remembered as none, so the same prefix does not ask again; one the user
        // asked for is shown however sure the model is.
        const sure = asked || g.confidence >= this.opts.settings().minConfidence;
        if (!sure) this.counters.unsure++;
        const text = sure ? cleanText(g.text) : '';
        return {
          text,
          id: this.cache.store(ctx.uri, ctx.prefix, text, g.confidence, g.origin),
          confidence: g.confidence,
          origin: g.origin,
          ...(g.signals && text ? { signals: g.signals } : {}),
        };
      } finally {
        link.dispose();
        this.latest.end(ctx.uri, source);
        if (this.inFlight.get(ctx.uri)?.source === source) this.inFlight.delete(ctx.uri);
      }
    };
    const promise = run();
    this.inFlight.set(ctx.uri, { prefix: ctx.prefix, lines, source, promise });
    return promise;
  }

  private present(
    { text, id, confidence, origin, signals }: Generation,
    ctx: CompletionContext,
    lines: number,
    fromCache: boolean,
    latencyMs: number | undefined,
  ): Outcome {
    const p = postprocess(text, ctx, lines);
    if (!p.ok) return none(p.reason);
    const suggestion: ShownSuggestion = {
      id,
      uri: ctx.uri,
      text: p.suggestion.text,
      cursor: ctx.cursor,
      replaceEnd: ctx.cursor + p.suggestion.replaceSuffix,
      fromCache,
      latencyMs,
      confidence,
      origin,
      ...(signals ? { signals } : {}),
    };
    this.shownSuggestions.shown(suggestion);
    this.counters.shown++;
    return { kind: 'shown', suggestion };
  }
}

function none(reason: NoSuggestion): Outcome {
  return { kind: 'none', reason };
}
