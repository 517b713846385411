/**
 * Context stage: what the later stages need to know about the cursor, from a plain snapshot of the
 * document (the editor adapter and the replay tool both make one).
 */
import { detectIndentation, IndentStyle, leadingWhitespace } from './indentation';

export interface DocumentSnapshot {
  uri: string;
  languageId: string;
  text: string;
  /** Offset of the cursor in `text`. */
  cursor: number;
}

export interface CompletionContext {
  uri: string;
  languageId: string;
  /** Text before the cursor fed to the model (at most about maxPrefixChars, see promptStart). */
  prefix: string;
  /** The cursor's line before and after the cursor. */
  linePrefix: string;
  lineSuffix: string;
  /** Lines after the cursor's line, as many as the later stages look at. */
  followingLines: string[];
  /** Leading whitespace of the cursor's line. */
  lineIndent: string;
  indent: IndentStyle;
  cursor: number;
}

/** Characters before the cursor given to the model at most (the decoder trims to its own token budget). */
export const MAX_PREFIX_CHARS = 16384;
/** The prompt start moves in steps this large, so that typing keeps the same prefix start and cache keys. */
const PREFIX_QUANTUM = 4096;
const FOLLOWING_LINES = 12;

/** Offset where the prefix starts: stable while the user types (so cached prefixes stay comparable). */
export function promptStart(cursor: number, maxChars = MAX_PREFIX_CHARS): number {
  if (cursor <= maxChars) return 0;
  return Math.floor((cursor - maxChars) / PREFIX_QUANTUM) * PREFIX_QUANTUM;
}

export function buildContext(doc: DocumentSnapshot, maxPrefixChars = MAX_PREFIX_CHARS): CompletionContext {
  const { text, cursor } = doc;
  const lineStart = text.lastIndexOf('\n', cursor - 1) + 1;
  const newline = text.indexOf('\n', cursor);
  const lineEnd = newline < 0 ? text.length : newline;
  const linePrefix = text.slice(lineStart, cursor);
  const following = newline < 0 ? [] : text.slice(newline + 1).split('\n', FOLLOWING_LINES);
  return {
    uri: doc.uri,
    languageId: doc.languageId,
    prefix: text.slice(promptStart(cursor, maxPrefixChars), cursor),
    linePrefix,
    lineSuffix: text.slice(cursor, lineEnd).replace(/\r$/, ''),
    followingLines: following.map((l) => l.replace(/\r$/, '')),
    lineIndent: leadingWhitespace(linePrefix),
    // Around the cursor is what the suggestion has to fit (and a huge file's start may differ).
    indent: detectIndentation(text.slice(Math.max(0, cursor - 20000), cursor + 20000)),
    cursor,
  };
}
