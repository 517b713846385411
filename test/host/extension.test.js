'use strict';
// Runs inside the VS Code extension host, against the installed (or development) FastWeights extension.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const EXTENSION_ID = process.env.FASTWEIGHTS_TEST_EXTENSION_ID || 'fastweights.fastweights';
const COMMANDS = [
  'fastweights.resetFileAdaptation',
  'fastweights.resetAllAdaptation',
  'fastweights.showAdaptationGain',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function workspaceRoot() {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  assert.ok(folder, 'the test run opens a workspace folder');
  return folder.uri.fsPath;
}

/** Writes a file into the workspace and shows it in an editor with the cursor at the end. */
async function openAtEnd(relPath, text) {
  const file = path.join(workspaceRoot(), relPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const document = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(document);
  const end = document.positionAt(document.getText().length);
  editor.selection = new vscode.Selection(end, end);
  return editor;
}

describe('FastWeights in a real VS Code extension host', function () {
  let api;

  before(async function () {
    // Activation is by language: opening a TypeScript file is what a user does first.
    const ws = workspaceRoot();
    await vscode.window.showTextDocument(
      await vscode.workspace.openTextDocument(path.join(ws, 'src', 'inventory.ts')),
    );
  });

  it('activates and its runtime becomes ready', async function () {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is installed`);
    api = await extension.activate();
    assert.ok(extension.isActive, 'extension is active');
    assert.ok(api && typeof api.runtimeReady === 'object', 'activate() returns an API with runtimeReady');
    await api.runtimeReady;
    // FastWeights' API also reports how the load ended (runtimeReady resolves after a failed load too).
    if ('status' in api) assert.strictEqual(api.status, 'ready', `runtime status (error: ${api.error})`);
    if ('provider' in api) console.log(`      execution provider: ${api.provider}`);
  });

  it('registers its three commands', async function () {
    const all = await vscode.commands.getCommands(true);
    for (const command of COMMANDS) assert.ok(all.includes(command), `${command} is registered`);
  });

  it('runs each command without throwing', async function () {
    const ws = workspaceRoot();
    await vscode.window.showTextDocument(
      await vscode.workspace.openTextDocument(path.join(ws, 'src', 'retry.ts')),
    );
    for (const command of COMMANDS) await vscode.commands.executeCommand(command);
    // The gain panel computes in the background; where the API exposes it, its outcome must not be an error.
    if (api && typeof api.whenGainPanelDone === 'function') {
      const message = await api.whenGainPanelDone();
      assert.ok(!message || message.type !== 'error', `gain panel: ${message && message.message}`);
      if (message && message.type === 'report')
        console.log(`      gain panel: ${JSON.stringify({ ...message.report, blocks: undefined })}`);
    }
  });

  it('produces an inline completion that Tab-accept inserts into a TypeScript document', async function () {
    // Real code before the cursor, ending mid-line so the model has something to finish.
    const ws = workspaceRoot();
    const base = fs.readFileSync(path.join(ws, 'src', 'inventory.ts'), 'utf8').trimEnd();
    const prefix = `${base.slice(0, base.lastIndexOf('}'))}\n  totalQuantity(): number {\n    let total = 0;\n    for (const quantity of this.`;
    const editor = await openAtEnd('src/probe.ts', prefix);
    const before = editor.document.getText();
    // Ask the inline-suggest controller (Alt+\), then keep trying to accept what it shows (Tab's command).
    // Re-asking too often would cancel a slow first completion, so each request gets up to 15 s.
    const deadline = Date.now() + 90000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      const retry = Math.min(Date.now() + 15000, deadline);
      while (after === before && Date.now() < retry) {
        await sleep(300);
        await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
        after = editor.document.getText();
      }
    }
    // Where the API counts completions, say whether the provider answered at all (empty text is not shown).
    const seen = api && 'completionCount' in api ? ` (completions shown so far: ${api.completionCount})` : '';
    assert.notStrictEqual(after, before, `an inline suggestion was shown and accepted${seen}`);
    assert.ok(after.startsWith(before), 'the suggestion was inserted at the cursor');
    const inserted = after.slice(before.length);
    console.log(`      inserted: ${JSON.stringify(inserted)}`);
    if (api && api.lastCompletion)
      console.log(`      last completion: ${JSON.stringify(api.lastCompletion)}`);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
