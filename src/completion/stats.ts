/**
 * Local completion statistics, per file and per session. Nothing leaves the machine: the counts live in
 * memory and are shown in the gain panel. An accept is reported by the inline item's `command`; a shown
 * suggestion that was never accepted counts as rejected.
 */

export interface LatencySummary {
  p50: number;
  p95: number;
  count: number;
}

export interface CompletionStatsSnapshot {
  /** Suggestions shown (each distinct suggestion once, cache continuations included). */
  shown: number;
  accepted: number;
  /** accepted / shown, or null before anything was shown. */
  acceptanceRate: number | null;
  /** Characters inserted by accepts. */
  charsAccepted: number;
  /** Keystrokes the accepts saved: accepted characters minus the one key each accept costs. */
  keystrokesSaved: number;
  /** Request-to-text latency of model generations (cache hits excluded), or null with none yet. */
  latencyMs: LatencySummary | null;
}

interface Counts {
  shown: number;
  accepted: number;
  charsAccepted: number;
  latencies: number[];
}

/** Most latencies kept per scope (the newest), so a long session stays small. */
const MAX_LATENCIES = 2000;

export class CompletionStats {
  private readonly files = new Map<string, Counts>();
  private readonly all: Counts = emptyCounts();
  private readonly listeners = new Set<(uri: string) => void>();

  /** A suggestion was shown in `uri`; `latencyMs` is given for model generations, not cache hits. */
  recordShown(uri: string, latencyMs?: number): void {
    for (const c of [this.countsFor(uri), this.all]) {
      c.shown++;
      if (latencyMs !== undefined) {
        c.latencies.push(latencyMs);
        if (c.latencies.length > MAX_LATENCIES) c.latencies.shift();
      }
    }
    this.emit(uri);
  }

  /** A suggestion of `chars` characters was accepted in `uri`. */
  recordAccepted(uri: string, chars: number): void {
    for (const c of [this.countsFor(uri), this.all]) {
      c.accepted++;
      c.charsAccepted += chars;
    }
    this.emit(uri);
  }

  forFile(uri: string): CompletionStatsSnapshot {
    return snapshot(this.files.get(uri) ?? emptyCounts());
  }

  session(): CompletionStatsSnapshot {
    return snapshot(this.all);
  }

  /** Forgets one file's counts (the session totals keep them). */
  forget(uri: string): void {
    this.files.delete(uri);
  }

  /** Calls `listener(uri)` after every change; returns a function that unsubscribes. */
  onDidChange(listener: (uri: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private countsFor(uri: string): Counts {
    let c = this.files.get(uri);
    if (!c) {
      c = emptyCounts();
      this.files.set(uri, c);
    }
    return c;
  }

  private emit(uri: string): void {
    for (const l of this.listeners) l(uri);
  }
}

function emptyCounts(): Counts {
  return { shown: 0, accepted: 0, charsAccepted: 0, latencies: [] };
}

function snapshot(c: Counts): CompletionStatsSnapshot {
  return {
    shown: c.shown,
    accepted: c.accepted,
    acceptanceRate: c.shown > 0 ? c.accepted / c.shown : null,
    charsAccepted: c.charsAccepted,
    keystrokesSaved: Math.max(0, c.charsAccepted - c.accepted),
    latencyMs: summariseLatency(c.latencies),
  };
}

/** Nearest-rank percentiles of a list of milliseconds, or null when it is empty. */
export function summariseLatency(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), count: sorted.length };
}
