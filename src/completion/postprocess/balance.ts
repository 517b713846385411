/**
 * Post-processing: a suggestion must not leave the completed line (for a multi-line suggestion: its lines)
 * less balanced than the line was before. It may close brackets that are open at the cursor (on its line
 * or on earlier ones) and the string the line has open; a closing bracket with nothing of its kind to close
 * (`entries()) {` after `obj.headers.`) or a quote left open at the end of a line is cut off, with what
 * follows it, or the suggestion is dropped when nothing is left. Brackets it opens and leaves open are not
 * counted: the user goes on typing (`foo(` of `foo(a, b)`).
 *
 * The scan knows strings (escapes, Python's triple quotes, template literals with `${...}`), comments (`//`,
 * block comments, Python's `#`) and JavaScript regular expression literals.
 */
import { buildContext, CompletionContext, DocumentSnapshot } from '../context';
import { FittedSuggestion, fitToSuffix } from './suffix';

interface ScanState {
  /** Open brackets, innermost last; '${' is a template literal's substitution. */
  stack: string[];
  /** The open string's quote ('', ', ", `, ''' or """). */
  quote: string;
  /** Offset in the scanned code where the open string started. */
  quoteAt: number;
  blockComment: boolean;
}

interface LineScan {
  /** Offsets (in the scanned code) of closing brackets that close nothing of their kind. */
  strays: number[];
  /** Offsets of the opening quotes of strings left open at a line end (quotes that end with their line). */
  openAtLineEnd: number[];
}

const OPENERS = '([{';
const CLOSES: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
/** After one of these (or at the start), a '/' starts a regular expression literal, not a division. */
const BEFORE_REGEX = /(?:^|[(,=:[!&|?{};+\-*%<>~^]|\breturn|\btypeof)$/;

function freshState(): ScanState {
  return { stack: [], quote: '', quoteAt: 0, blockComment: false };
}

function copyState(s: ScanState): ScanState {
  return { ...s, stack: [...s.stack] };
}

/**
 * Scans `code` from `state` (changed in place) and reports stray closers and strings open at a line end;
 * the end of `code` counts as a line end when `endsLine`.
 */
function scan(code: string, python: boolean, state: ScanState, endsLine: boolean): LineScan {
  const out: LineScan = { strays: [], openAtLineEnd: [] };
  const lineEnd = (): void => {
    if (state.quote === "'" || state.quote === '"') {
      out.openAtLineEnd.push(state.quoteAt);
      state.quote = '';
    }
  };
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (state.blockComment) {
      if (c === '*' && code[i + 1] === '/') {
        state.blockComment = false;
        i++;
      }
      continue;
    }
    if (state.quote) {
      const q = state.quote;
      if (c === '\\') i++;
      else if (c === '\n') {
        if (q.length === 1 && q !== '`') lineEnd();
      } else if (q.length === 3) {
        if (code.startsWith(q, i)) {
          state.quote = '';
          i += 2;
        }
      } else if (c === q) state.quote = '';
      else if (q === '`' && c === '$' && code[i + 1] === '{') {
        state.stack.push('${');
        state.quote = '';
        i++;
      }
      continue;
    }
    if (c === '\n') continue;
    if (python ? c === '#' : c === '/' && code[i + 1] === '/') {
      const eol = code.indexOf('\n', i);
      if (eol < 0) break;
      i = eol - 1;
      continue;
    }
    if (!python && c === '/' && code[i + 1] === '*') {
      state.blockComment = true;
      i++;
      continue;
    }
    if (!python && c === '/') {
      const end = regexEnd(code, i);
      if (end > 0) i = end;
      continue;
    }
    if (c === "'" || c === '"' || (c === '`' && !python)) {
      const triple = python && code.startsWith(c + c + c, i);
      state.quote = triple ? c + c + c : c;
      state.quoteAt = i;
      if (triple) i += 2;
      continue;
    }
    if (OPENERS.includes(c)) state.stack.push(c);
    else if (c in CLOSES) {
      const top = state.stack[state.stack.length - 1];
      if (top === CLOSES[c]) state.stack.pop();
      else if (c === '}' && top === '${') {
        state.stack.pop();
        state.quote = '`';
        state.quoteAt = i;
      } else out.strays.push(i);
    }
  }
  if (endsLine) lineEnd();
  return out;
}

/** End offset of a regular expression literal starting with the '/' at `i` on its line, or -1. */
function regexEnd(code: string, i: number): number {
  const lineStart = code.lastIndexOf('\n', i - 1) + 1;
  if (!BEFORE_REGEX.test(code.slice(lineStart, i).trimEnd())) return -1;
  let inClass = false;
  for (let j = i + 1; j < code.length; j++) {
    const c = code[j]!;
    if (c === '\n') return -1;
    if (c === '\\') j++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) return j;
  }
  return -1;
}

/** The scan state at the start of the cursor's line, from the prompt's earlier lines. */
function stateAtLineStart(ctx: CompletionContext, python: boolean): ScanState {
  const before = ctx.prefix.slice(0, ctx.prefix.length - ctx.linePrefix.length);
  // A prompt cut from a long file may start in the middle of a line: scan from the next line.
  const from = ctx.cursor - ctx.prefix.length > 0 ? before.indexOf('\n') + 1 : 0;
  const state = freshState();
  scan(before.slice(from), python, state, false);
  return state;
}

export interface BalanceFault {
  /** Where in the suggestion's text the fault starts (cut there to remove it). */
  at: number;
  kind: 'stray-closer' | 'open-string';
}

/**
 * The first fault of `fitted` at `ctx`, or undefined when the completed line is as balanced as the line
 * was before: no more stray closers, no more strings left open at a line end.
 */
export function balanceFault(ctx: CompletionContext, fitted: FittedSuggestion): BalanceFault | undefined {
  const python = ctx.languageId === 'python';
  const start = stateAtLineStart(ctx, python);
  const before = scan(ctx.linePrefix + ctx.lineSuffix, python, copyState(start), true);
  const rest = ctx.lineSuffix.slice(fitted.replaceSuffix);
  const after = scan(ctx.linePrefix + fitted.text + rest, python, copyState(start), true);
  const from = ctx.linePrefix.length;
  const inText = (offset: number): number => Math.min(Math.max(0, offset - from), fitted.text.length);
  const faults: BalanceFault[] = [];
  if (after.strays.length > before.strays.length) {
    // The first stray the suggestion brought (one in the text, else the text as a whole is at fault).
    const own = after.strays.find((o) => o >= from && o < from + fitted.text.length);
    faults.push({ at: own === undefined ? 0 : inText(own), kind: 'stray-closer' });
  }
  if (after.openAtLineEnd.length > before.openAtLineEnd.length) {
    const own = after.openAtLineEnd.find((o) => o >= from && o < from + fitted.text.length);
    faults.push({ at: own === undefined ? 0 : inText(own), kind: 'open-string' });
  }
  if (faults.length === 0) return undefined;
  return faults.reduce((a, b) => (b.at < a.at ? b : a));
}

/**
 * The suggestion cut before its first fault (and fitted again to the rest of the line), as is when it has
 * none, or undefined when nothing worth showing is left.
 */
export function balanceSuggestion(
  ctx: CompletionContext,
  fitted: FittedSuggestion,
  minChars: number,
): FittedSuggestion | undefined {
  let current = fitted;
  // Each cut removes at least one character; a few rounds settle any real suggestion.
  for (let round = 0; round < 8; round++) {
    const fault = balanceFault(ctx, current);
    if (!fault) return current;
    const text = current.text.slice(0, fault.at).replace(/\s+$/, '');
    if (text.trim().length < minChars) return undefined;
    const refitted = fitToSuffix(text, ctx.lineSuffix, ctx.linePrefix);
    if (!refitted) return undefined;
    current = refitted;
  }
  return undefined;
}

/**
 * Whether accepting `text` whole at the cursor of `doc`, over the characters up to `replaceEnd`, leaves the
 * line (or the lines it writes) less balanced than it was (the replay's `unbalanced_shown_pct`).
 */
export function leavesUnbalanced(doc: DocumentSnapshot, text: string, replaceEnd: number): boolean {
  return balanceFault(buildContext(doc), { text, replaceSuffix: replaceEnd - doc.cursor }) !== undefined;
}
