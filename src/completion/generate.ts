/**
 * Generation stage: one model request for the context, single- or multi-line, with a token that aborts
 * decoding in the worker when it fires. The model is a port so the replay tool and tests can drive the
 * pipeline with the same client the extension uses, or with a stand-in.
 */
import type { ModelClient } from '../host/client';
import { RequestCancelled } from '../host/client';
import type { CancellationSignal } from './cancellation';
import type { CompletionContext } from './context';
import { opensBlock } from './postprocess/scope';
import type { GenerationSignals } from './showFeatures';

export interface GenerateRequest {
  uri: string;
  prefix: string;
  maxTokens: number;
  /** Lines the model may write (1: it stops at the end of the line). */
  maxLines: number;
  /** Multi-line: the model may stop at a line with less leading whitespace (the scope has ended). */
  minIndent?: number;
  /** Use the document's fast-weight state (false: the static model). */
  adapt: boolean;
  /** With adapt: also mix in the file's n-gram cache (absent: true). */
  fileCache?: boolean;
  /** With fileCache: also mix in the workspace's index when there is one (absent: true). */
  workspace?: boolean;
  /** End the suggestion before the first token the model gives less than this probability (0: never). */
  minTokenProb?: number;
}

export interface Generated {
  text: string;
  tokens: number;
  /** Tokens in the document state that was used (0: static). */
  stateTokens: number;
  /**
   * The model's probability of the suggestion's start (its first few characters, see the decoder's
   * leadLogProb), 0..1: how likely the suggestion is to be taken at all.
   */
  confidence: number;
  /** Whose text it is: the model's, or copied by the file cache or workspace index (see suggestionOrigin). */
  origin: SuggestionOrigin;
  /** What the decoder says about it (absent from stand-in models), for showFeatures. */
  signals?: GenerationSignals;
  cancelled: boolean;
}

/**
 * 'model': every token is the one the model alone would pick; 'copied': the file's n-gram cache or the
 * workspace index picked a token of the suggestion's start against the model; 'partly-copied': they did so
 * later in the suggestion only. Recorded to find where shown-but-rejected suggestions come from (issue 26).
 */
export type SuggestionOrigin = 'model' | 'copied' | 'partly-copied';

export function suggestionOrigin(
  copied: 'none' | 'lead' | 'later',
  copiedFrom: number,
  text: string,
): SuggestionOrigin {
  if (copied === 'lead') return 'copied';
  return copied === 'later' && copiedFrom < text.length ? 'partly-copied' : 'model';
}

export interface CompletionModel {
  generate(request: GenerateRequest, token: CancellationSignal): Promise<Generated>;
}

/** Token budgets: a line rarely needs more than 48; a block body gets twice that. */
export const SINGLE_LINE_TOKENS = 48;
export const MULTI_LINE_TOKENS = 96;

export function generationRequest(
  ctx: CompletionContext,
  lines: number,
  adapt: boolean,
  fileCache = true,
  minTokenProb = 0,
  workspace = true,
): GenerateRequest {
  const request: GenerateRequest = {
    uri: ctx.uri,
    prefix: ctx.prefix,
    maxTokens: lines > 1 ? MULTI_LINE_TOKENS : SINGLE_LINE_TOKENS,
    maxLines: lines,
    adapt,
    fileCache,
  };
  if (minTokenProb > 0) request.minTokenProb = minTokenProb;
  if (!workspace) request.workspace = false;
  // Decoding may stop where post-processing would cut anyway (postprocess/scope.ts): saves tokens.
  if (lines > 1) request.minIndent = ctx.lineIndent.length + (opensBlock(ctx.linePrefix) ? 1 : 0);
  return request;
}

/** The extension's model: the worker behind ModelClient (cancelled requests come back as cancelled). */
export function modelFromClient(client: () => ModelClient | undefined): CompletionModel {
  return {
    async generate(r, token) {
      const c = client();
      if (!c) throw new Error('the model is not loaded');
      try {
        const out = await c.complete(r.uri, r.prefix, r.maxTokens, token, r.adapt, r.maxLines, r.minIndent, {
          fileCache: r.fileCache,
          minTokenProb: r.minTokenProb,
          workspace: r.workspace,
        });
        const origin = suggestionOrigin(out.copied, out.copiedFrom, out.text);
        return {
          text: out.text,
          tokens: out.tokens,
          stateTokens: out.stateTokens,
          confidence: out.tokens > 0 ? Math.exp(out.leadLogProb) : 0,
          origin,
          signals: {
            leadLogProb: out.leadLogProb,
            meanLogProb: out.meanLogProb,
            tokens: out.tokens,
            stop: out.stop,
            origin,
          },
          cancelled: out.cancelled,
        };
      } catch (e) {
        if (e instanceof RequestCancelled) {
          return { text: '', tokens: 0, stateTokens: 0, confidence: 0, origin: 'model', cancelled: true };
        }
        throw e;
      }
    },
  };
}
