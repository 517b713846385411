/**
 * A file's indentation style (tabs or spaces, and the width of one level), read from its own lines.
 */
export interface IndentStyle {
  useTabs: boolean;
  /** Spaces per level (also the width of a tab when converting). */
  size: number;
}

const DEFAULT_STYLE: IndentStyle = { useTabs: false, size: 4 };

/** Majority vote over indented lines; the level width is the most common step between neighbours. */
export function detectIndentation(text: string, fallback: IndentStyle = DEFAULT_STYLE): IndentStyle {
  let tabs = 0;
  let spaces = 0;
  const steps = new Map<number, number>();
  let previous = 0;
  for (const line of text.split('\n', 5000)) {
    if (line.trim().length === 0) continue;
    const lead = /^[ \t]*/.exec(line)![0];
    if (lead.startsWith('\t')) tabs++;
    else if (lead.length > 0) spaces++;
    if (!lead.includes('\t')) {
      const step = Math.abs(lead.length - previous);
      if (step >= 2 && step <= 8) steps.set(step, (steps.get(step) ?? 0) + 1);
      previous = lead.length;
    }
  }
  if (tabs === 0 && spaces === 0) return fallback;
  let size = fallback.size;
  let best = 0;
  for (const [step, count] of steps) {
    if (count > best) {
      best = count;
      size = step;
    }
  }
  return { useTabs: tabs > spaces, size };
}

/** Leading whitespace of a line. */
export function leadingWhitespace(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/** Visual width of leading whitespace (a tab is one level of `style`). */
export function indentWidth(lead: string, style: IndentStyle): number {
  let width = 0;
  for (const ch of lead) width += ch === '\t' ? style.size : 1;
  return width;
}
