/**
 * Which languages FastWeights suggests in, and the words that say why not. The model was trained on
 * TypeScript, JavaScript and Python only: those are served by default. Any other language is served only
 * when `fastweights.enable` names it with true, because `"*": true` (the default) was never a choice of
 * suggestions from a model that is weak there (issue 26: on unseen Go and Rust code, 1.57 bits per byte
 * for the model alone, 1.14 with the file's adaptation). No editor API here, so unit tests can check it.
 */

/** The VS Code language ids the model was trained on. */
export const TRAINED_LANGUAGES: readonly string[] = [
  'typescript',
  'typescriptreact',
  'javascript',
  'javascriptreact',
  'python',
];

export function isTrainedLanguage(languageId: string): boolean {
  return TRAINED_LANGUAGES.includes(languageId);
}

/**
 * trained / named: on (a trained language, or another one the enable map names with true);
 * not-trained: off because the model was not trained on it and the map does not name it;
 * turned-off: off because of the user's own setting.
 */
export type LanguageSupportKind = 'trained' | 'named' | 'not-trained' | 'turned-off';

export interface LanguageSupport {
  on: boolean;
  kind: LanguageSupportKind;
  /** A short phrase for the log: "on", or why not. */
  reason: string;
}

/**
 * Whether suggestions are on for a language under the `fastweights.enable` map: a language's own entry
 * wins; "*" covers only the trained languages.
 */
export function languageSupport(
  languageId: string,
  enable: Readonly<Record<string, boolean>>,
): LanguageSupport {
  const trained = isTrainedLanguage(languageId);
  const own = enable[languageId];
  if (own === true) return { on: true, kind: trained ? 'trained' : 'named', reason: 'on' };
  if (own === false) {
    return { on: false, kind: 'turned-off', reason: `turned off for ${languageId} in fastweights.enable` };
  }
  if (!trained) {
    return {
      on: false,
      kind: 'not-trained',
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
  return { on: true, kind: 'trained', reason: 'on' };
}

/** What the editor says about a language that is off: a notice with one button, and the status tooltip. */
export interface LanguageOffNotice {
  message: string;
  /** The button that writes `"<id>": true` into fastweights.enable. */
  button: string;
  tooltip: string;
}

/** The notice for a language that is off, or undefined when it is on. */
export function languageOffNotice(
  languageId: string,
  support: LanguageSupport,
): LanguageOffNotice | undefined {
  if (support.on) return undefined;
  const entry = `"${languageId}": true`;
  if (support.kind === 'not-trained') {
    return {
      message:
        `FastWeights: the model is not trained on ${languageId} yet, so it does not suggest there. ` +
        `To enable it anyway, add ${entry} to fastweights.enable (on unseen Go and Rust code a whole ` +
        `line was right 12% of the time, 24% once adapted to the file).`,
      button: `Enable for ${languageId}`,
      // "off for this editor" is what the status bar says for every editor it leaves alone.
      tooltip: `FastWeights: not trained on ${languageId} yet; enable it with ${entry} in fastweights.enable (off for this editor; click for the menu)`,
    };
  }
  return {
    message: `FastWeights: completions are ${support.reason}.`,
    button: `Turn On for ${languageId}`,
    tooltip: `FastWeights: completions are ${support.reason} (click for the menu)`,
  };
}
