/**
 * Post-processing: fit the suggestion before the rest of the line so nothing after the cursor is doubled.
 * When the suggestion ends with the closing characters that follow the cursor (all of them or the first
 * few), the item's range covers them and the insertion replaces them instead of repeating them.
 */
export interface FittedSuggestion {
  /** Text to insert. */
  text: string;
  /** Characters after the cursor that the insertion replaces (0: plain insert). */
  replaceSuffix: number;
}

export function fitToSuffix(text: string, lineSuffix: string): FittedSuggestion | undefined {
  if (text.trim().length === 0) return undefined;
  const suffix = lineSuffix.replace(/\s+$/, '');
  if (suffix.length === 0) return { text, replaceSuffix: 0 };
  const lead = suffix.length - suffix.trimStart().length;
  const closers = suffix.trimStart();
  for (let k = closers.length; k >= 1; k--) {
    const retyped = closers.slice(0, k);
    if (!text.endsWith(retyped)) continue;
    // Nothing but the characters already there: no suggestion.
    if (text.slice(0, text.length - retyped.length).trim().length === 0) return undefined;
    return { text, replaceSuffix: lead + k };
  }
  return { text, replaceSuffix: 0 };
}
