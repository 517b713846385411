/**
 * Typing through a suggestion: when the new prefix extends the previous one by characters the suggestion
 * predicted, the rest of the suggestion is served without running the model.
 */
export class SuggestionCache {
  private last: { key: string; prefix: string; text: string } | undefined;

  /** Remembers `text` as the suggestion after `prefix` in document `key`. */
  store(key: string, prefix: string, text: string): void {
    this.last = { key, prefix, text };
  }

  lookup(key: string, prefix: string): string | undefined {
    const l = this.last;
    if (!l || l.key !== key) return undefined;
    if (!prefix.startsWith(l.prefix)) return undefined;
    const typed = prefix.slice(l.prefix.length);
    if (typed.includes('\n') || !l.text.startsWith(typed)) return undefined;
    const rest = l.text.slice(typed.length);
    return rest.length > 0 ? rest : undefined;
  }

  clear(key?: string): void {
    if (!key || this.last?.key === key) this.last = undefined;
  }
}
