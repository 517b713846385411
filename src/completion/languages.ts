/**
 * Which languages FastWeights suggests in by default, and the words that say why not. The model was
 * trained on TypeScript, JavaScript and Python. Other languages were measured (issue 26): held-out code
 * of each from its own registry (training/languages_heldout.py) typed through the extension's pipeline by
 * `npm run replay -- --languages ID`. A language is served by default when the share of shown
 * suggestions the simulated user took, with the file's adaptation, reached ACCEPTANCE_BAR; any other
 * language only when `fastweights.enable` names it with true. No editor API here, so unit tests can check it.
 */

/** The VS Code language ids the model was trained on. */
export const TRAINED_LANGUAGES: readonly string[] = [
  'typescript',
  'typescriptreact',
  'javascript',
  'javascriptreact',
  'python',
];

/** What the per-language replay measured (adapted as shipped; static: the model alone). */
export interface LanguageMeasure {
  /** The language's name in messages. */
  name: string;
  /** Shown suggestions taken (whole or by their next word), 0..1, with adaptation. */
  acceptance: number;
  /** Keystrokes saved, percent, with adaptation and with the model alone. */
  keysSaved: number;
  staticKeysSaved: number;
}

/** Acceptance with adaptation a language needs to be served without being named. */
export const ACCEPTANCE_BAR = 0.35;

/**
 * Measured on 32 regions (seeds 1 and 2, about 7,000 characters) of each language, pooled
 * (docs/evaluation.md#languages). `jsonc` (VS Code's id for tsconfig.json, settings.json) counts as JSON.
 */
export const MEASURED_LANGUAGES: Readonly<Record<string, LanguageMeasure>> = {
  go: { name: 'Go', acceptance: 0.41, keysSaved: 57.3, staticKeysSaved: 38.3 },
  rust: { name: 'Rust', acceptance: 0.44, keysSaved: 52.3, staticKeysSaved: 37.0 },
  java: { name: 'Java', acceptance: 0.431, keysSaved: 63.6, staticKeysSaved: 57.3 },
  csharp: { name: 'C#', acceptance: 0.461, keysSaved: 59.9, staticKeysSaved: 48.1 },
  c: { name: 'C', acceptance: 0.39, keysSaved: 53.5, staticKeysSaved: 35.9 },
  cpp: { name: 'C++', acceptance: 0.434, keysSaved: 54.4, staticKeysSaved: 43.1 },
  php: { name: 'PHP', acceptance: 0.404, keysSaved: 53.3, staticKeysSaved: 42.0 },
  ruby: { name: 'Ruby', acceptance: 0.382, keysSaved: 42.2, staticKeysSaved: 34.7 },
  shellscript: { name: 'shell', acceptance: 0.357, keysSaved: 39.5, staticKeysSaved: 27.1 },
  json: { name: 'JSON', acceptance: 0.365, keysSaved: 47.5, staticKeysSaved: 40.2 },
  jsonc: {
    name: 'JSON with comments (measured as JSON)',
    acceptance: 0.365,
    keysSaved: 47.5,
    staticKeysSaved: 40.2,
  },
  yaml: { name: 'YAML', acceptance: 0.373, keysSaved: 46.2, staticKeysSaved: 33.4 },
  markdown: { name: 'Markdown', acceptance: 0.34, keysSaved: 42.3, staticKeysSaved: 29.9 },
};

/** The ids served under the default `{"*": true}`: the trained ones and those measured at the bar. */
export const DEFAULT_LANGUAGES: readonly string[] = [
  ...TRAINED_LANGUAGES,
  ...Object.entries(MEASURED_LANGUAGES)
    .filter(([, m]) => m.acceptance >= ACCEPTANCE_BAR)
    .map(([id]) => id),
];

export function isTrainedLanguage(languageId: string): boolean {
  return TRAINED_LANGUAGES.includes(languageId);
}

export function isServedByDefault(languageId: string): boolean {
  return DEFAULT_LANGUAGES.includes(languageId);
}

/**
 * trained / measured: on under "*" (trained, or measured at the bar); named: on because the enable map
 * names it; not-served: off because it is neither and the map does not name it; turned-off: off because
 * of the user's own setting.
 */
export type LanguageSupportKind = 'trained' | 'measured' | 'named' | 'not-served' | 'turned-off';

export interface LanguageSupport {
  on: boolean;
  kind: LanguageSupportKind;
  /** A short phrase for the log: "on", or why not. */
  reason: string;
}

function defaultKind(languageId: string): 'trained' | 'measured' {
  return isTrainedLanguage(languageId) ? 'trained' : 'measured';
}

/**
 * Whether suggestions are on for a language under the `fastweights.enable` map: a language's own entry
 * wins; "*" covers only the languages served by default.
 */
export function languageSupport(
  languageId: string,
  enable: Readonly<Record<string, boolean>>,
): LanguageSupport {
  const served = isServedByDefault(languageId);
  const own = enable[languageId];
  if (own === true) return { on: true, kind: served ? defaultKind(languageId) : 'named', reason: 'on' };
  if (own === false) {
    return { on: false, kind: 'turned-off', reason: `turned off for ${languageId} in fastweights.enable` };
  }
  if (!served) {
    return {
      on: false,
      kind: 'not-served',
      reason: `not served by default (enable with "${languageId}": true)`,
    };
  }
  if (enable['*'] === false) {
    return {
      on: false,
      kind: 'turned-off',
      reason: `turned off for ${languageId} by "*": false in fastweights.enable`,
    };
  }
  return { on: true, kind: defaultKind(languageId), reason: 'on' };
}

/** What the editor says about a language that is off: a notice with one button, and the status tooltip. */
export interface LanguageOffNotice {
  message: string;
  /** The button that writes `"<id>": true` into fastweights.enable. */
  button: string;
  tooltip: string;
}

/** Why the model does not serve a language, in a sentence: its measurement, or that it has none. */
function whyNotServed(languageId: string): string {
  const m = MEASURED_LANGUAGES[languageId];
  if (!m) return `the model was neither trained nor measured on ${languageId}`;
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  return (
    `on held-out ${m.name} code, ${pct(m.acceptance)} of its suggestions were taken even with ` +
    `adaptation, below the ${pct(ACCEPTANCE_BAR)} it needs to be on by default`
  );
}

/** The notice for a language that is off, or undefined when it is on. */
export function languageOffNotice(
  languageId: string,
  support: LanguageSupport,
): LanguageOffNotice | undefined {
  if (support.on) return undefined;
  const entry = `"${languageId}": true`;
  if (support.kind === 'not-served') {
    return {
      message:
        `FastWeights does not serve ${languageId} yet: ${whyNotServed(languageId)}. ` +
        `To enable it anyway, add ${entry} to fastweights.enable.`,
      button: `Enable for ${languageId}`,
      // "off for this editor" is what the status bar says for every editor it leaves alone.
      tooltip: `FastWeights: does not serve ${languageId} yet; enable it with ${entry} in fastweights.enable (off for this editor; click for the menu)`,
    };
  }
  return {
    message: `FastWeights: completions are ${support.reason}.`,
    button: `Turn On for ${languageId}`,
    tooltip: `FastWeights: completions are ${support.reason} (click for the menu)`,
  };
}
