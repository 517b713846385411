import { languageSupport } from './languages';

/**
 * The completion settings the pipeline reads on every request (the editor adapter maps `fastweights.*`
 * configuration onto this; the replay tool passes its own).
 */
export type TriggerMode = 'automatic' | 'manual';

export interface CompletionSettings {
  /**
   * Language id -> enabled; "*" is the default for the trained languages without an entry. Any other
   * language is on only with its own true entry (languages.ts).
   */
  enable: Readonly<Record<string, boolean>>;
  /** automatic: suggest while typing; manual: only when asked (command or Alt+\). */
  triggerMode: TriggerMode;
  /** Quiet time after a keystroke before the model is asked. */
  debounceMs: number;
  /** Most lines of a multi-line suggestion (1: single-line only). */
  maxLines: number;
  /**
   * Suggestions whose start the model gives less than this probability (Generated.confidence: its first
   * characters, given the word typed so far) are not shown (setting fastweights.minStartProbability).
   */
  minConfidence: number;
  /** Mix the file's n-gram cache into adapted suggestions (setting fastweights.adaptation.fileCache). */
  fileCache: boolean;
  /** With fileCache: also mix in the workspace's index, when the worker holds one. */
  workspace: boolean;
  /**
   * A suggestion ends before the first token the model gives less than this probability, so what is shown
   * is more often right as a whole (setting fastweights.minTokenProbability; 0 never cuts).
   */
  minTokenProb: number;
}

export const DEFAULT_SETTINGS: CompletionSettings = {
  enable: { '*': true },
  triggerMode: 'automatic',
  // Measured (`npm run replay -- FILES --debounce-sweep ...`, docs/evaluation.md): at a key every 80, 120
  // or 200 ms, asking at once starts the fewest generations and shows text soonest, because a suggestion
  // that arrives before the next key is typed through from the cache; a wait only lets more keys abort the
  // work it delays.
  debounceMs: 0,
  maxLines: 6,
  // Chosen on the valid split with `npm run replay -- --min-confidence P`
  // (docs/performance-history.md, "Suggestion quality").
  minConfidence: 0.05,
  fileCache: true,
  workspace: true,
  // Chosen on the valid split with `npm run replay -- --min-token-prob P`
  // (docs/performance-history.md, "Suggestion quality").
  minTokenProb: 0.7,
};

/**
 * Whether suggestions are on for a language: its own entry wins over "*", and "*" covers only the
 * languages served by default (languageSupport says why not).
 */
export function isEnabledFor(enable: Readonly<Record<string, boolean>>, languageId: string): boolean {
  return languageSupport(languageId, enable).on;
}
