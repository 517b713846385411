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

  it("adapts a large file around the editor's cursor, and follows the cursor when it jumps far", async function () {
    this.timeout(180000);
    // About 18,000 tokens (more than the 8,192 a state holds); every line marked with its copy's number, so
    // that no chunk repeats another (repeated chunks would come from the cache).
    const base = fs.readFileSync(path.join(workspaceRoot(), 'src', 'inventory.ts'), 'utf8');
    const text = Array.from({ length: 24 }, (_, i) => base.replace(/\n/g, ` // ${i}\n`)).join('\n');
    const editor = await openAtEnd('src/big-cursor.ts', text);
    const uri = editor.document.uri;
    /** The state info once no build has run for a second (the cursor's own rebuild included). */
    const settled = async () => {
      let last;
      let since = Date.now();
      for (const deadline = Date.now() + 120000; Date.now() < deadline; await sleep(100)) {
        const info = api.getDocumentState(uri);
        const key = info && `${info.buildMs}/${info.building}`;
        if (key !== last) [last, since] = [key, Date.now()];
        else if (info && info.tokens > 0 && !info.building && Date.now() - since > 1000) return info;
      }
      assert.fail(`the state of ${uri} did not settle: ${JSON.stringify(api.getDocumentState(uri))}`);
    };
    /** Moves the cursor; the state info once it changed (or a minute passed) and then settled. */
    const moveTo = async (position) => {
      const before = api.getDocumentState(uri);
      editor.selection = new vscode.Selection(position, position);
      for (const deadline = Date.now() + 60000; Date.now() < deadline; await sleep(100)) {
        const info = api.getDocumentState(uri);
        if (info && (info.building || info.buildMs !== before.buildMs)) break;
      }
      return settled();
    };
    // The window holds less than half the file: a jump to the top and one back to the end both move it,
    // and each computes chunks that are no longer in the cache.
    const opened = await settled();
    const atTop = await moveTo(new vscode.Position(0, 0));
    const atEnd = await moveTo(editor.document.positionAt(text.length));
    console.log(
      `      cursor jumps in an 18,000-token file: chunks computed ${opened.computedChunks} when opened at ` +
        `the end, ${atTop.computedChunks} after a jump to the top, ${atEnd.computedChunks} back at the end`,
    );
    assert.notStrictEqual(atTop.buildMs, opened.buildMs, 'the jump to the top rebuilt the state');
    assert.ok(atTop.computedChunks > 0, `chunks around the top were computed: ${JSON.stringify(atTop)}`);
    assert.notStrictEqual(atEnd.buildMs, atTop.buildMs, 'the jump back rebuilt the state');
    assert.ok(atEnd.computedChunks > 0, `chunks around the end were computed: ${JSON.stringify(atEnd)}`);
    for (const info of [opened, atTop, atEnd]) assert.ok(info.tokens <= 8192, `${info.tokens} tokens`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
