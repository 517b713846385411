/**
 * Cache stage, keyed on the text before the cursor. A request whose prefix extends a cached prefix by
 * exactly the characters the cached suggestion predicted (the user typing through it, or accepting a word of
 * it) gets the rest of that suggestion without running the model; it keeps the suggestion's id, so it counts
 * as the same suggestion.
 */
import type { SuggestionOrigin } from './generate';

export interface CacheHit {
  /** What remains of the suggestion after what was typed ('' only for an exact prefix with no suggestion). */
  text: string;
  id: number;
  /** Characters of the suggestion typed since it was generated. */
  typed: number;
  confidence: number;
  origin: SuggestionOrigin;
}

interface Entry {
  key: string;
  prefix: string;
  text: string;
  id: number;
  confidence: number;
  origin: SuggestionOrigin;
}

/** Entries kept (the newest): enough for going back a few characters with Backspace. */
const CAPACITY = 16;

export class SuggestionCache {
  private entries: Entry[] = [];
  private nextId = 1;

  /** Remembers `text` as the suggestion after `prefix` in document `key`; returns its id. */
  store(
    key: string,
    prefix: string,
    text: string,
    confidence = 1,
    origin: SuggestionOrigin = 'model',
  ): number {
    const id = this.nextId++;
    this.entries = this.entries.filter((e) => !(e.key === key && e.prefix === prefix));
    this.entries.push({ key, prefix, text, id, confidence, origin });
    if (this.entries.length > CAPACITY) this.entries.shift();
    return id;
  }

  /** The cached suggestion that `prefix` continues, newest first. */
  find(key: string, prefix: string): CacheHit | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.key !== key || !prefix.startsWith(e.prefix)) continue;
      const typed = prefix.slice(e.prefix.length);
      if (typed.length === 0) {
        return { text: e.text, id: e.id, typed: 0, confidence: e.confidence, origin: e.origin };
      }
      if (e.text.startsWith(typed) && e.text.length > typed.length) {
        const { id, confidence, origin } = e;
        return { text: e.text.slice(typed.length), id, typed: typed.length, confidence, origin };
      }
    }
    return undefined;
  }

  /** The rest of the cached suggestion after `prefix`, if any (shorthand for find). */
  lookup(key: string, prefix: string): string | undefined {
    const hit = this.find(key, prefix);
    return hit && hit.text.length > 0 ? hit.text : undefined;
  }

  clear(key?: string): void {
    this.entries = key === undefined ? [] : this.entries.filter((e) => e.key !== key);
  }
}
