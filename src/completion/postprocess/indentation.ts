/**
 * Post-processing: the continuation lines of a suggestion use the file's indentation (tabs or spaces).
 */
import { IndentStyle, indentWidth, leadingWhitespace } from '../indentation';

export function matchIndentation(text: string, style: IndentStyle): string {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const lead = leadingWhitespace(line);
    if (lead.length === 0) continue;
    const width = indentWidth(lead, style);
    const wanted = style.useTabs
      ? '\t'.repeat(Math.floor(width / style.size)) + ' '.repeat(width % style.size)
      : ' '.repeat(width);
    lines[i] = wanted + line.slice(lead.length);
  }
  return lines.join('\n');
}
