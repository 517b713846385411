/**
 * Post-processing: normalise the model's raw text (line ends, trailing spaces, trailing blank lines); a
 * suggestion of whitespace only becomes ''.
 */
export function cleanText(raw: string): string {
  const lines = raw
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/, ''));
  while (lines.length > 1 && lines[lines.length - 1]!.trim().length === 0) lines.pop();
  const text = lines.join('\n');
  return text.trim().length === 0 ? '' : text;
}
