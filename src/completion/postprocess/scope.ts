/**
 * Post-processing: a multi-line suggestion ends where the current indentation scope ends, i.e. before the
 * first line indented less than the cursor's line (or, right after a block opener, not deeper than it).
 */
import type { CompletionContext } from '../context';
import { indentWidth, leadingWhitespace } from '../indentation';

const BLOCK_OPENER = /[{([:]\s*$/;

/** Whether a line ending like this opens a block (its body is indented deeper). */
export function opensBlock(line: string): boolean {
  return BLOCK_OPENER.test(line);
}

export function cutAtScopeEnd(text: string, ctx: CompletionContext): string {
  const lines = text.split('\n');
  if (lines.length === 1) return text;
  const base = indentWidth(ctx.lineIndent, ctx.indent);
  // Right after an opener the scope is the block's body; a block the suggestion opens itself keeps its closer.
  const afterOpener = opensBlock(ctx.linePrefix);
  let end = lines.length;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().length === 0) continue;
    const width = indentWidth(leadingWhitespace(line), ctx.indent);
    if (afterOpener ? width <= base : width < base) {
      end = i;
      break;
    }
  }
  const kept = lines.slice(0, end);
  while (kept.length > 1 && kept[kept.length - 1]!.trim().length === 0) kept.pop();
  return kept.join('\n');
}
