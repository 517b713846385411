/**
 * The panel reads completion statistics through this small interface (the part of
 * src/completion/stats.ts's CompletionStats it needs), so it works with any source, or none.
 */
import type { CompletionStatsSnapshot } from '../completion/stats';

export type { CompletionStatsSnapshot };

export interface CompletionStatsSource {
  forFile(uri: string): CompletionStatsSnapshot;
  session(): CompletionStatsSnapshot;
  /** Calls `listener(uri)` after every change; returns a function that unsubscribes. */
  onDidChange(listener: (uri: string) => void): () => void;
}
