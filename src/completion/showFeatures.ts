/**
 * What is known about a suggestion when it is shown, as numbers: the generation's signals (the lead's and
 * the whole suggestion's probability, its length, whose text it is, why decoding stopped) and the cursor's
 * line. The replay dumps them with whether the simulated user took the suggestion, and
 * training/acceptance_study.py measures how well they predict that (issue 26: could a score beyond the
 * lead's probability hide the suggestions users reject?). Nothing here decides what is shown.
 */
import type { CompletionContext } from './context';
import type { SuggestionOrigin } from './generate';

/** What the decoder says about a generation, beside its text. */
export interface GenerationSignals {
  /** Log-probability of the suggestion's lead (its first few non-space characters). */
  leadLogProb: number;
  /** Mean log-probability of all its tokens. */
  meanLogProb: number;
  tokens: number;
  /** Why decoding stopped ('unsure': the next token was below minTokenProb). */
  stop: string;
  origin: SuggestionOrigin;
}

/** The features' names, in the order of showFeatures' vector. */
export const SHOW_FEATURES = [
  'bias',
  'lead_logprob',
  'mean_logprob',
  'log_tokens',
  'log_chars',
  'multi_line',
  'copied',
  'partly_copied',
  'stop_unsure',
  'line_start',
  'in_word',
  'after_dot',
  'after_open',
  'after_space',
  'mid_line',
] as const;

const WORD = /[\p{L}\p{N}_$]/u;

/** The feature vector of a suggestion `text` about to be shown in `ctx`. */
export function showFeatures(s: GenerationSignals, ctx: CompletionContext, text: string): number[] {
  const before = ctx.linePrefix;
  const last = before.slice(-1);
  const lineStart = before.trim().length === 0;
  return [
    1,
    Math.max(s.leadLogProb, -10),
    Math.max(s.meanLogProb, -10),
    Math.log1p(s.tokens),
    Math.log1p(text.length),
    text.includes('\n') ? 1 : 0,
    s.origin === 'copied' ? 1 : 0,
    s.origin === 'partly-copied' ? 1 : 0,
    s.stop === 'unsure' ? 1 : 0,
    lineStart ? 1 : 0,
    !lineStart && WORD.test(last) ? 1 : 0,
    last === '.' ? 1 : 0,
    last === '(' || last === '[' || last === '{' || last === ',' ? 1 : 0,
    !lineStart && last === ' ' ? 1 : 0,
    ctx.lineSuffix.trim().length > 0 ? 1 : 0,
  ];
}
