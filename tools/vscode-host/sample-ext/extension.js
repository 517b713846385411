'use strict';
// Harness fixture: answers every inline completion request with a fixed suffix, after a short delay that
// stands in for a model's start-up, so the harness can be checked without the real extension.
const vscode = require('vscode');

const SUGGESTION = ' + 42; // fixture';

function activate(context) {
  const runtimeReady = new Promise((resolve) => setTimeout(resolve, 300));
  const provider = {
    async provideInlineCompletionItems(document, position) {
      await runtimeReady;
      return [new vscode.InlineCompletionItem(SUGGESTION, new vscode.Range(position, position))];
    },
  };
  const selector = ['typescript', 'javascript', 'python'].map((language) => ({ language }));
  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider(selector, provider),
    vscode.commands.registerCommand('fastweights.resetFileAdaptation', () => undefined),
    vscode.commands.registerCommand('fastweights.resetAllAdaptation', () => undefined),
    vscode.commands.registerCommand('fastweights.showAdaptationGain', () => undefined),
  );
  return { runtimeReady, fixtureSuggestion: SUGGESTION };
}

module.exports = { activate, deactivate() {} };
