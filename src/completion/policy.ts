/**
 * When to suggest and how to fit a suggestion to the line (pure functions, unit-tested).
 */

/** Characters that may follow the cursor while still completing "to the end of the line". */
const CLOSERS = /^[\s)\]}>'"`;,.:]*$/;

/** Whether to suggest at all, given the rest of the line after the cursor. */
export function shouldSuggest(lineSuffix: string): boolean {
  return CLOSERS.test(lineSuffix);
}

export interface FittedSuggestion {
  /** Text to insert. */
  text: string;
  /** Characters after the cursor that the insertion replaces (0: plain insert). */
  replaceSuffix: number;
}

/**
 * Cleans a raw model line and fits it before the rest of the line: drops whitespace-only output, trailing
 * spaces, and when the suggestion already ends with the closing characters that follow the cursor, replaces
 * them instead of duplicating them.
 */
export function fitSuggestion(raw: string, lineSuffix: string): FittedSuggestion | undefined {
  let text = raw.replace(/\s+$/, '');
  if (text.trim().length === 0) return undefined;
  const suffix = lineSuffix.replace(/\s+$/, '');
  if (suffix.length > 0) {
    if (text.endsWith(suffix)) return { text, replaceSuffix: suffix.length };
    // The model wrote some of the closers already: keep its text and let the rest follow.
    const trimmed = suffix.replace(/^\s+/, '');
    if (trimmed.length > 0 && text.endsWith(trimmed)) text = text.slice(0, text.length - trimmed.length);
    if (text.trim().length === 0) return undefined;
  }
  return { text, replaceSuffix: 0 };
}

/** A pure repetition of the line's own text is not worth showing. */
export function isRepetition(text: string, linePrefix: string): boolean {
  const t = text.trim();
  return t.length >= 8 && linePrefix.trim().endsWith(t);
}
