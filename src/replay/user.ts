/**
 * The simulated user: looks at every suggestion and accepts exactly what matches the text that really comes
 * next: all of it (Tab), else its next word when that word matches and is worth a key (Ctrl+Right);
 * otherwise types the next character.
 */
export type UserAction =
  { kind: 'accept'; chars: number } | { kind: 'accept-word'; chars: number } | { kind: 'type' };

/** VS Code's next-word step: leading spaces, then a run of word characters or of other non-space ones. */
export function nextWordLength(text: string): number {
  const m = /^\s*(?:\w+|[^\w\s]+)?/.exec(text);
  return m ? m[0].length : 0;
}

export function decide(suggestion: string, rest: string): UserAction {
  if (suggestion.length > 0 && rest.startsWith(suggestion))
    return { kind: 'accept', chars: suggestion.length };
  const word = nextWordLength(suggestion);
  // A one-character word costs the same key as typing it.
  if (word >= 2 && rest.startsWith(suggestion.slice(0, word))) return { kind: 'accept-word', chars: word };
  return { kind: 'type' };
}

/** All the indentation after line breaks in `text` (what auto-indent types over the whole region). */
export function autoIndentTotal(text: string): number {
  return (text.match(/\n[ \t]+/g) ?? []).reduce((n, m) => n + m.length - 1, 0);
}

/** Indentation the editor inserts by itself after Enter (the user does not type it). */
export function autoIndentAt(rest: string, afterNewline: boolean): number {
  if (!afterNewline) return 0;
  return /^[ \t]*/.exec(rest)![0].length;
}
