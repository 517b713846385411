/**
 * Post-processing: fit the suggestion before the rest of the line so nothing after the cursor is doubled.
 * When the suggestion ends with the closing characters that follow the cursor (all of them or the first
 * few), the item's range covers them and the insertion replaces them instead of repeating them. When it
 * closes them earlier and goes on (`(p) => p * p);` before an auto-inserted `)`), the range covers as many
 * of them as the line needs to stay as balanced as it was.
 */
export interface FittedSuggestion {
  /** Text to insert. */
  text: string;
  /** Characters after the cursor that the insertion replaces (0: plain insert). */
  replaceSuffix: number;
}

/** `linePrefix`: the line before the cursor, so that brackets and strings opened there are known. */
export function fitToSuffix(text: string, lineSuffix: string, linePrefix = ''): FittedSuggestion | undefined {
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
  // The suggestion closes what the suffix closes and goes on: keep as few of the old closers as balance allows.
  const before = imbalance(linePrefix + closers);
  if (!worse(imbalance(linePrefix + text + closers), before)) return { text, replaceSuffix: 0 };
  for (let k = 1; k <= closers.length; k++) {
    if (!worse(imbalance(linePrefix + text + closers.slice(k)), before))
      return { text, replaceSuffix: lead + k };
  }
  return { text, replaceSuffix: 0 };
}

interface Imbalance {
  /** Closing brackets with no opener on the line (they close something from earlier lines, or nothing). */
  stray: number;
  /** The code ends inside a string. */
  openString: boolean;
}

const PAIRS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const QUOTES = `'"\``;

/**
 * Brackets and quotes of C-like or Python code (escapes honoured; a line comment runs to the end of its line;
 * a quote other than a backtick ends at the end of its line).
 */
function imbalance(code: string): Imbalance {
  const stack: string[] = [];
  let stray = 0;
  let quote = '';
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote || (c === '\n' && quote !== '`')) quote = '';
      continue;
    }
    if (QUOTES.includes(c)) quote = c;
    else if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c in PAIRS) {
      if (stack.length > 0 && stack[stack.length - 1] === PAIRS[c]) stack.pop();
      else stray++;
    } else if ((c === '/' && code[i + 1] === '/') || c === '#') {
      const eol = code.indexOf('\n', i);
      if (eol < 0) break;
      i = eol;
    }
  }
  return { stray, openString: quote !== '' };
}

function worse(a: Imbalance, b: Imbalance): boolean {
  return a.stray > b.stray || (a.openString && !b.openString);
}
