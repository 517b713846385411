/**
 * The user's controls over completions (VS Code side): the accept report, the global and per-language
 * toggles (written to the `fastweights.enable` map), and the manual trigger.
 */
import * as vscode from 'vscode';
import { ACCEPTED_COMMAND, FastWeightsInlineProvider, readSettings, snapshotOf } from './provider';
import { isEnabledFor } from './settings';

export const TOGGLE_COMMAND = 'fastweights.toggleCompletions';
export const TOGGLE_LANGUAGE_COMMAND = 'fastweights.toggleCompletionsForLanguage';
export const TRIGGER_COMMAND = 'fastweights.triggerCompletion';

/** Writes one entry of the enable map in the user settings. */
async function setEnabled(key: string, enabled: boolean): Promise<void> {
  const config = vscode.workspace.getConfiguration('fastweights');
  const enable = { ...readSettings().enable, [key]: enabled };
  await config.update('enable', enable, vscode.ConfigurationTarget.Global);
}

export function registerCompletionControls(provider: FastWeightsInlineProvider): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(ACCEPTED_COMMAND, (id: number, uri: string, chars: number) => {
      const editor = vscode.window.activeTextEditor;
      const after =
        editor && editor.document.uri.toString() === uri
          ? snapshotOf(editor.document, editor.selection.active)
          : undefined;
      provider.pipeline.accepted(id, uri, chars, after);
    }),
    // Global: flips "*"; a language's own entry still wins (toggle that one per language).
    vscode.commands.registerCommand(TOGGLE_COMMAND, async () => {
      const on = !(readSettings().enable['*'] ?? true);
      await setEnabled('*', on);
      void vscode.window.setStatusBarMessage(`FastWeights completions ${on ? 'on' : 'off'}`, 3000);
    }),
    vscode.commands.registerCommand(TOGGLE_LANGUAGE_COMMAND, async (languageId?: string) => {
      const language =
        typeof languageId === 'string' ? languageId : vscode.window.activeTextEditor?.document.languageId;
      if (!language) {
        void vscode.window.showInformationMessage(
          'FastWeights: open a file to toggle completions for its language.',
        );
        return;
      }
      const on = !isEnabledFor(readSettings().enable, language);
      await setEnabled(language, on);
      void vscode.window.setStatusBarMessage(
        `FastWeights completions ${on ? 'on' : 'off'} for ${language}`,
        3000,
      );
    }),
    // Manual mode's key: the editor's own trigger, which asks providers with the Invoke trigger kind.
    vscode.commands.registerCommand(TRIGGER_COMMAND, () =>
      vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    ),
  ];
}

/** Menu entries for the status bar item's quick pick (toggle, toggle for this language). */
export function completionMenuItems(languageId: string | undefined): { label: string; command: string }[] {
  const settings = readSettings();
  const global = settings.enable['*'] ?? true;
  const items = [
    {
      label: `$(${global ? 'debug-pause' : 'play'}) ${global ? 'Disable' : 'Enable'} Completions`,
      command: TOGGLE_COMMAND,
    },
  ];
  if (languageId) {
    const on = isEnabledFor(settings.enable, languageId);
    items.push({
      label: `$(${on ? 'debug-pause' : 'play'}) ${on ? 'Disable' : 'Enable'} Completions for ${languageId}`,
      command: TOGGLE_LANGUAGE_COMMAND,
    });
  }
  return items;
}
