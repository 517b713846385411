/**
 * Which documents FastWeights leaves alone, and how much of a large one it adapts to. Binary and minified
 * files get neither adaptation nor suggestions (the model was not trained on them, and tokenising a 1 MB
 * line costs the worker seconds per edit); huge files are off too. Large but ordinary files get suggestions
 * and adapt to their first part only, since the state is built from a bounded number of tokens anyway.
 * No editor API here: the extension feeds it text.
 */
export interface InputLimits {
  /** Documents longer than this (characters) are left alone. */
  maxChars: number;
  /** A line longer than this (characters) marks a minified or generated file, which is left alone. */
  maxLineChars: number;
  /** Characters of a document sent for adaptation at most (its first part). */
  maxAdaptChars: number;
}

export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = {
  maxChars: 16 * 1024 * 1024,
  maxLineChars: 10_000,
  // About 80k tokens: several times what a state is built from, at ~0.2 s of tokenising in the worker.
  maxAdaptChars: 256 * 1024,
};

/** Why a text is left alone (a short phrase for the status bar and the log), or undefined when it is not. */
export function skipReason(text: string, limits: InputLimits = DEFAULT_INPUT_LIMITS): string | undefined {
  if (text.length > limits.maxChars) {
    return `file too large (${formatChars(text.length)}; the limit is ${formatChars(limits.maxChars)})`;
  }
  // A NUL character never occurs in source code; it is how git and editors spot binary content too.
  if (text.includes('\0')) return 'binary content';
  const longest = longestLine(text);
  if (longest > limits.maxLineChars) {
    return `minified or generated (a line of ${formatChars(longest)}; the limit is ${formatChars(limits.maxLineChars)})`;
  }
  return undefined;
}

/** The part of a document its state is built from. */
export function adaptationText(text: string, limits: InputLimits = DEFAULT_INPUT_LIMITS): string {
  return text.length > limits.maxAdaptChars ? text.slice(0, limits.maxAdaptChars) : text;
}

/** Length of the longest line, in characters (\n or \r\n line ends). */
export function longestLine(text: string): number {
  let longest = 0;
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    const stop = end < 0 ? text.length : end;
    const len = stop - start - (stop > start && text.charCodeAt(stop - 1) === 13 ? 1 : 0);
    if (len > longest) longest = len;
    if (end < 0) return longest;
    start = end + 1;
  }
}

function formatChars(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} M characters`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} K characters`;
  return `${n} characters`;
}
