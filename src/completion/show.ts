/**
 * Show stage: the suggestion as the editor shows it (text, and the range after the cursor it replaces),
 * and the bookkeeping of what was shown and accepted for the local statistics. A suggestion is one
 * generation: its continuations while the user types through it count as the same one.
 */
import type { SuggestionOrigin } from './generate';
import type { GenerationSignals } from './showFeatures';
import type { CompletionStats } from './stats';

export interface ShownSuggestion {
  /** The generation it comes from (continuations share it). */
  id: number;
  uri: string;
  /** Text to insert at the cursor. */
  text: string;
  cursor: number;
  /** End offset of the text after the cursor that the insertion replaces (= cursor: plain insert). */
  replaceEnd: number;
  fromCache: boolean;
  /** Request to text, for model generations (undefined for cache hits). */
  latencyMs: number | undefined;
  /** The model's confidence in the generation it comes from (0..1). */
  confidence: number;
  /** Whose text it is (the model's, or copied by the file cache or workspace index). */
  origin: SuggestionOrigin;
  /** What the decoder said about it, when it comes fresh from a real model's generation. */
  signals?: GenerationSignals;
}

/** Remembers what was shown (for the accept command) and feeds the stats once per suggestion. */
export class ShownSuggestions {
  private readonly counted = new Set<number>();
  private readonly accepted = new Set<number>();
  /** Ids in show order, so the sets stay small in a long session. */
  private readonly order: number[] = [];

  constructor(private readonly stats?: CompletionStats) {}

  shown(s: ShownSuggestion): void {
    if (this.counted.has(s.id)) return;
    this.counted.add(s.id);
    this.order.push(s.id);
    if (this.order.length > 1000) {
      const old = this.order.shift()!;
      this.counted.delete(old);
      this.accepted.delete(old);
    }
    this.stats?.recordShown(s.uri, s.latencyMs);
  }

  /** An accept of `chars` characters of suggestion `id`; false when this suggestion was already counted. */
  accept(id: number, uri: string, chars: number): boolean {
    if (this.accepted.has(id)) return false;
    this.accepted.add(id);
    this.stats?.recordAccepted(uri, chars);
    return true;
  }
}
