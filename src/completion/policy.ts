/**
 * Where to suggest and how much: the rest of the line must be empty or closing characters only, and a
 * suggestion runs over several lines only on an empty line or right after a block opener; elsewhere it stops
 * at the end of the line.
 */
import { CompletionContext } from './context';

/** Characters that may follow the cursor while still completing "to the end of the line". */
const CLOSERS = /^[\s)\]}>'"`;,.:]*$/;
/**
 * A line ending with one of these opens a block whose body may be suggested whole. After an arrow at the end
 * of a line the model most often opens the body's block itself (`=> {`): held to one line, that suggestion
 * was the lone `{`, too short to show.
 */
const BLOCK_OPENER = /(?:[{:]|=>)\s*$/;
/** These open a list that may run over lines, when nothing follows them on the line. */
const LIST_OPENER = /[([]\s*$/;

/** Whether to suggest at all, given the rest of the line after the cursor. */
export function shouldSuggest(lineSuffix: string): boolean {
  return CLOSERS.test(lineSuffix);
}

/** Lines the suggestion may span here (1: single line). */
export function linesAllowed(ctx: CompletionContext, maxLines: number): number {
  if (maxLines <= 1) return 1;
  const emptyLine = ctx.linePrefix.trim().length === 0;
  const opensBlock =
    BLOCK_OPENER.test(ctx.linePrefix) ||
    (LIST_OPENER.test(ctx.linePrefix) && ctx.lineSuffix.trim().length === 0);
  return emptyLine || opensBlock ? maxLines : 1;
}
