/**
 * `--debounce-sweep`: what the debounce costs and saves, measured in real time. A typist presses keys at a
 * steady pace with jitter (each keystroke cancels the request before it, as the editor does); for each
 * debounce value it counts the generations started and aborted per keystroke, and the time from the last
 * keystroke to the suggestion when the typist pauses.
 */
import { CancellationSource } from '../completion/cancellation';
import type { DocumentSnapshot } from '../completion/context';
import type { CompletionModel } from '../completion/generate';
import { CompletionPipeline, Outcome } from '../completion/pipeline';
import { CompletionSettings, DEFAULT_SETTINGS } from '../completion/settings';
import { summariseLatency } from '../completion/stats';
import type { Region } from './regions';

export interface SweepRow {
  debounce_ms: number;
  keystrokes: number;
  generations_per_keystroke: number;
  aborted_per_keystroke: number;
  pause_to_suggestion_ms: { p50: number; p95: number };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function debounceSweep(
  model: CompletionModel,
  regions: Region[],
  debounces: number[],
  keyIntervalMs: number,
  random: () => number,
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const debounceMs of debounces) {
    const settings: CompletionSettings = { ...DEFAULT_SETTINGS, debounceMs, maxLines: 1 };
    const pipeline = new CompletionPipeline({ model, settings: () => settings, adapt: false });
    const pauses: number[] = [];
    let keystrokes = 0;
    for (const [i, region] of regions.entries()) {
      // One line's worth of typing, then a pause until the suggestion comes.
      const line = region.text.split('\n').find((l) => l.trim().length >= 12) ?? region.text.split('\n')[0]!;
      const start = region.before + line.slice(0, line.length - line.trimStart().length);
      const typed = line.trimStart().slice(0, 40);
      let previous: CancellationSource | undefined;
      let last: Promise<Outcome> | undefined;
      for (let k = 1; k <= typed.length; k++) {
        previous?.cancel();
        const source = new CancellationSource();
        previous = source;
        const doc: DocumentSnapshot = {
          uri: `file:///sweep/${debounceMs}/${i}`,
          languageId: region.languageId,
          text: start + typed.slice(0, k) + '\n' + region.after,
          cursor: start.length + k,
        };
        last = pipeline.provide(doc, 'automatic', source.token);
        keystrokes++;
        if (k < typed.length) await sleep(keyIntervalMs * (0.5 + random()));
      }
      const t0 = performance.now();
      await last;
      pauses.push(performance.now() - t0);
    }
    const p = summariseLatency(pauses);
    const c = pipeline.counters;
    rows.push({
      debounce_ms: debounceMs,
      keystrokes,
      generations_per_keystroke: Math.round((100 * c.generations) / keystrokes) / 100,
      aborted_per_keystroke: Math.round((100 * c.aborted) / keystrokes) / 100,
      pause_to_suggestion_ms: { p50: Math.round(p?.p50 ?? 0), p95: Math.round(p?.p95 ?? 0) },
    });
  }
  return rows;
}
