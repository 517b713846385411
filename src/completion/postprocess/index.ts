/**
 * Post-processing stage: the model's raw text in, the suggestion to show (or why none) out. Each step is
 * its own module; the order matters (cut to scope before looking for repeats, fit to the suffix, then check
 * the completed line's balance).
 */
import type { CompletionContext } from '../context';
import { balanceSuggestion } from './balance';
import { cleanText } from './clean';
import { matchIndentation } from './indentation';
import { redefinesName } from './redefinition';
import { cutInlineLoop, cutRepeatOfFollowing, cutSelfRepetition, isRepetition } from './repetition';
import { cutAtScopeEnd } from './scope';
import { FittedSuggestion, fitToSuffix } from './suffix';

export type DropReason =
  'empty' | 'too-short' | 'repeats-line' | 'repeats-following' | 'only-suffix' | 'unbalanced' | 'redefines';

/** Shorter suggestions save nothing: accepting one costs the same key as typing it. */
const MIN_CHARS = 2;

export type Processed = { ok: true; suggestion: FittedSuggestion } | { ok: false; reason: DropReason };

/** `lines`: how many lines the suggestion may span here (1: cut at the end of the line). */
export function postprocess(raw: string, ctx: CompletionContext, lines: number): Processed {
  let text = cleanText(cutInlineLoop(raw));
  text = lines > 1 ? cutSelfRepetition(cutAtScopeEnd(text, ctx)) : text.split('\n')[0]!;
  text = cleanText(matchIndentation(text, ctx.indent));
  if (text.length === 0) return { ok: false, reason: 'empty' };
  text = cutRepeatOfFollowing(text, ctx);
  if (text.trim().length === 0) return { ok: false, reason: 'repeats-following' };
  if (isRepetition(text, ctx.linePrefix)) return { ok: false, reason: 'repeats-line' };
  if (redefinesName(text, ctx)) return { ok: false, reason: 'redefines' };
  const fitted = fitToSuffix(text, ctx.lineSuffix, ctx.linePrefix);
  if (!fitted) return { ok: false, reason: 'only-suffix' };
  if (text.length < MIN_CHARS) return { ok: false, reason: 'too-short' };
  // Last: the cut must see the range the suffix step chose.
  const balanced = balanceSuggestion(ctx, fitted, MIN_CHARS);
  if (!balanced) return { ok: false, reason: 'unbalanced' };
  return { ok: true, suggestion: balanced };
}
