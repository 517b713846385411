/**
 * Post-processing: suggestions that only say what is already there are dropped or cut short: a line that
 * repeats the line before the cursor, lines the document already has right after the cursor, and a line the
 * suggestion itself repeats.
 */
import type { CompletionContext } from '../context';

/** A pure repetition of the line's own text is not worth showing. */
export function isRepetition(text: string, linePrefix: string): boolean {
  const t = text.trim();
  return t.length >= 8 && linePrefix.trim().endsWith(t);
}

/**
 * Cuts the suggestion where it starts repeating the document's next lines (for example the closing brace
 * that is already there); '' when its first line would just duplicate the next line.
 */
export function cutRepeatOfFollowing(text: string, ctx: CompletionContext): string {
  const following = ctx.followingLines.map((l) => l.trim()).filter((l) => l.length > 0);
  if (following.length === 0) return text;
  const lines = text.split('\n');
  // The cursor's line as it would read after accepting (its rest follows the suggestion's first line).
  const firstLine = (ctx.linePrefix + lines[0] + (lines.length === 1 ? ctx.lineSuffix : '')).trim();
  if (firstLine.length > 0 && firstLine === following[0] && lines[0]!.trim().length > 0) return '';
  for (let i = 1; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t.length > 0 && t === following[0]) return trimBlankTail(lines.slice(0, i)).join('\n');
  }
  return text;
}

/** Cuts a multi-line suggestion before a non-blank line equal to the one before it (a generation loop). */
export function cutSelfRepetition(text: string): string {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t.length > 0 && t === lines[i - 1]!.trim()) return trimBlankTail(lines.slice(0, i)).join('\n');
  }
  return text;
}

function trimBlankTail(lines: string[]): string[] {
  const kept = [...lines];
  while (kept.length > 1 && kept[kept.length - 1]!.trim().length === 0) kept.pop();
  return kept;
}

/** A piece of at least 8 characters written three times in a row within one line. */
const INLINE_LOOP = /(.{8,}?)\1\1/;

/**
 * Cuts a line where the model fell into a loop inside it ("(x) => xs.map((x) => xs.map((x) => ..."): the
 * text up to the end of the piece's first occurrence is kept, the repeats are dropped.
 */
export function cutInlineLoop(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = INLINE_LOOP.exec(lines[i]!);
    // A run of one character ("// ------") is a ruler, not a loop.
    if (m && new Set(m[1]!.replace(/\s/g, '')).size > 1)
      return trimBlankTail([...lines.slice(0, i), lines[i]!.slice(0, m.index + m[1]!.length)]).join('\n');
  }
  return text;
}
