/**
 * Types one region into the completion pipeline, character by character, as the simulated user does, and
 * counts keys, suggestions, accepts and latency. The pipeline is the extension's own (src/completion).
 */
import { NEVER_CANCELLED } from '../completion/cancellation';
import { buildContext, DocumentSnapshot } from '../completion/context';
import type { SuggestionOrigin } from '../completion/generate';
import { showFeatures } from '../completion/showFeatures';
import type { CompletionPipeline } from '../completion/pipeline';
import { leavesUnbalanced } from '../completion/postprocess/balance';
import type { Region } from './regions';
import { autoIndentAt, autoIndentTotal, decide } from './user';

export interface Tally {
  chars: number;
  /** Characters the editor's auto-indent inserts after Enter (no key for the user either way). */
  autoChars: number;
  /** Keys pressed: typed characters plus accepts. */
  keys: number;
  shown: Set<number>;
  /** The model's confidence in each shown suggestion (for choosing the confidence threshold). */
  confidence: Map<number, number>;
  /** Whose text each shown suggestion is (the model's, or copied by the file cache or workspace index). */
  origins: Map<number, SuggestionOrigin>;
  /** showFeatures of each suggestion when first shown (fresh generations only). */
  features: Map<number, number[]>;
  /** Each such suggestion's text when first shown, the line before it and the text that really came next. */
  texts: Map<number, { shown: string; before: string; next: string }>;
  /** Characters each suggestion showed the first time it was shown. */
  lengths: Map<number, number>;
  accepted: Set<number>;
  /** Shown suggestions that, accepted whole, would leave the line's brackets or quotes less balanced. */
  unbalanced: Set<number>;
  /** Keys each accepted suggestion saved: the characters it inserted less the accept keys. */
  saved: Map<number, number>;
  accepts: number;
  wordAccepts: number;
  generations: number;
  latencies: number[];
}

export function emptyTally(): Tally {
  return {
    chars: 0,
    autoChars: 0,
    keys: 0,
    shown: new Set(),
    confidence: new Map(),
    origins: new Map(),
    features: new Map(),
    texts: new Map(),
    lengths: new Map(),
    accepted: new Set(),
    unbalanced: new Set(),
    saved: new Map(),
    accepts: 0,
    wordAccepts: 0,
    generations: 0,
    latencies: [],
  };
}

export async function typeRegion(
  pipeline: CompletionPipeline,
  region: Region,
  uri: string,
  now: () => number,
  tally: Tally,
  /** Called with the document text each time the typing passes a line end (the user's pause there). */
  atLineEnd?: (text: string) => Promise<void>,
): Promise<void> {
  const target = region.text;
  const snapshot = (typed: number): DocumentSnapshot => ({
    uri,
    languageId: region.languageId,
    // The region's lines are replaced by what is typed so far; the line after it stays on its own line.
    text: region.before + target.slice(0, typed) + '\n' + region.after,
    cursor: region.before.length + typed,
  });
  let typed = 0;
  tally.chars += target.length;
  // The same for both runs, also where an accept covers a line's indentation.
  tally.autoChars += autoIndentTotal(target);
  let lineEnds = 0;
  while (typed < target.length) {
    const ends = target.slice(0, typed).split('\n').length - 1;
    if (atLineEnd && ends > lineEnds) await atLineEnd(snapshot(typed).text);
    lineEnds = ends;
    const auto = autoIndentAt(target.slice(typed), typed > 0 && target[typed - 1] === '\n');
    if (auto > 0) {
      typed += auto;
      continue;
    }
    const before = pipeline.counters.generations;
    const t0 = now();
    const outcome = await pipeline.provide(snapshot(typed), 'automatic', NEVER_CANCELLED);
    if (pipeline.counters.generations > before) {
      tally.generations += pipeline.counters.generations - before;
      tally.latencies.push(now() - t0);
    }
    tally.keys++;
    if (outcome.kind !== 'shown') {
      typed++;
      continue;
    }
    const s = outcome.suggestion;
    tally.shown.add(s.id);
    tally.confidence.set(s.id, s.confidence);
    if (!tally.origins.has(s.id)) tally.origins.set(s.id, s.origin);
    if (s.signals && !tally.features.has(s.id)) {
      // Computed here, not in the pipeline: only the replay's study reads them.
      tally.features.set(s.id, showFeatures(s.signals, buildContext(snapshot(typed)), s.text));
      const line = region.before + target.slice(0, typed);
      const next = target.slice(typed, typed + Math.max(40, s.text.length));
      tally.texts.set(s.id, { shown: s.text, before: line.slice(line.lastIndexOf('\n') + 1), next });
    }
    if (!tally.lengths.has(s.id)) tally.lengths.set(s.id, s.text.length);
    if (leavesUnbalanced(snapshot(typed), s.text, s.replaceEnd)) tally.unbalanced.add(s.id);
    const action = decide(s.text, target.slice(typed));
    if (action.kind === 'type') {
      typed++;
      continue;
    }
    typed += action.chars;
    tally.accepted.add(s.id);
    tally.saved.set(s.id, (tally.saved.get(s.id) ?? 0) + action.chars - 1);
    if (action.kind === 'accept') {
      tally.accepts++;
      pipeline.accepted(s.id, uri, action.chars, snapshot(typed));
    } else {
      tally.wordAccepts++;
      pipeline.accepted(s.id, uri, action.chars);
    }
  }
}

const LENGTH_BUCKETS: readonly (readonly [number, number])[] = [
  [1, 2],
  [3, 5],
  [6, 10],
  [11, 20],
  [21, 40],
  [41, Infinity],
];

/** Shown and accepted suggestions by the characters they showed first (which lengths are worth showing). */
export function acceptanceByLength(t: Tally): { chars: string; shown: number; accepted: number }[] {
  return LENGTH_BUCKETS.map(([lo, hi]) => {
    const ids = [...t.shown].filter((id) => {
      const n = t.lengths.get(id) ?? 0;
      return n >= lo && n <= hi;
    });
    const accepted = ids.filter((id) => t.accepted.has(id)).length;
    return { chars: hi === Infinity ? `${lo}+` : `${lo}-${hi}`, shown: ids.length, accepted };
  });
}

/**
 * Shown and accepted suggestions by whose text they are: where shown-but-rejected suggestions come from
 * (the model, or a copy by the file cache or workspace index that the model alone would not have made).
 */
export function acceptanceByOrigin(t: Tally): Record<SuggestionOrigin, { shown: number; accepted: number }> {
  const out: Record<SuggestionOrigin, { shown: number; accepted: number }> = {
    model: { shown: 0, accepted: 0 },
    copied: { shown: 0, accepted: 0 },
    'partly-copied': { shown: 0, accepted: 0 },
  };
  for (const id of t.shown) {
    const o = out[t.origins.get(id) ?? 'model'];
    o.shown++;
    if (t.accepted.has(id)) o.accepted++;
  }
  return out;
}

/** One line per shown suggestion that has features: what training/acceptance_study.py reads. */
export function suggestionRecords(t: Tally, mode: string): string[] {
  return [...t.features].map(([id, features]) =>
    JSON.stringify({
      mode,
      id,
      features,
      accepted: t.accepted.has(id),
      keys_saved: t.saved.get(id) ?? 0,
      ...t.texts.get(id),
    }),
  );
}
