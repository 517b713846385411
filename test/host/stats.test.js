'use strict';
// Completion statistics in a real extension host: every suggestion accepted with Tab's command counts once
// in the statistics the gain panel reads (issue 26: "the panel's accepted count may be one short of the
// Tabs pressed"). Run alone with FASTWEIGHTS_HOST_GREP="accepted count" npm run test:host.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const EXTENSION_ID = process.env.FASTWEIGHTS_TEST_EXTENSION_ID || 'fastweights.fastweights';
const PANEL_TITLE = 'FastWeights: Adaptation Gain';
const { sleep, workspaceRoot, until, suggestionAtCursor } = require('./helpers');

/**
 * Runs Tab's command until the document changes (the items reach the editor a moment after the provider
 * returns them), at most for `ms`; the text afterwards, or undefined when nothing was inserted.
 */
async function commit(editor, ms = 10000) {
  const before = editor.document.getText();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    // Commit again only while nothing changed: a second commit after an insert could accept the next
    // (speculated) suggestion as well.
    for (const settle = Date.now() + 500; Date.now() < settle; await sleep(50))
      if (editor.document.getText() !== before) return editor.document.getText();
  }
  return undefined;
}

// Places the model usually finishes (`|` marks each); the test visits them from the last, so an accept
// never moves the places still to come, and stops after TARGET accepts.
const FILE = [
  'export function area(width: number, height: number): number {',
  '  return |',
  '}',
  '',
  'export function greet(name: string): void {',
  '  const message = `Hello, ${name}!`;',
  '  console.log(|);',
  '}',
  '',
  'const primes = [2, 3, 5, 7, 11];',
  'const squares = primes.map((p) => p * p);',
  'const cubes = primes.map(|);',
  '',
  'function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  'const sum = add(|);',
  '',
  'export function perimeter(width: number, height: number): number {',
  '  return |',
  '}',
  '',
].join('\n');
const TARGET = 3;

async function setWorkspaceAdaptation(value) {
  await vscode.workspace
    .getConfiguration('fastweights')
    .update('adaptation.workspace', value, vscode.ConfigurationTarget.Global);
}

/** Opens `file` in a tab of its own (not a preview, which the next file shown would replace). */
async function openInTab(file) {
  const document = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(document, {
    viewColumn: vscode.ViewColumn.One,
    preview: false,
  });
  return { document, editor };
}

describe('completion statistics: accepted count in a real VS Code extension host', function () {
  this.timeout(900000);
  let api;

  before(async function () {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is installed`);
    api = await extension.activate();
    await api.runtimeReady;
    assert.strictEqual(api.status, 'ready', `runtime status (error: ${api.error})`);
    // The places below were chosen for what the file alone suggests; the workspace (which the other tests
    // fill with files) would change it. The count of accepts is the same either way.
    await setWorkspaceAdaptation(false);
  });

  after(async function () {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await setWorkspaceAdaptation(undefined);
  });

  it('accepted count: equals the accepts that inserted a suggestion, in the stats and the gain panel', async function () {
    const file = path.join(workspaceRoot(), 'src', 'accepts.ts');
    const places = [];
    for (let i = FILE.indexOf('|'); i >= 0; i = FILE.indexOf('|', i + 1)) places.push(i - places.length);
    fs.writeFileSync(file, FILE.replace(/\|/g, ''));
    const { document, editor } = await openInTab(file);
    const uri = document.uri.toString();
    const stats = api.completionStats;
    const sessionBefore = stats.session().accepted;
    assert.strictEqual(stats.forFile(uri).accepted, 0, 'a fresh file starts with no accepts');

    let accepts = 0;
    const log = [];
    for (const offset of places.reverse()) {
      if (accepts >= TARGET) break;
      const at = document.positionAt(offset);
      editor.selection = new vscode.Selection(at, at);
      const c = await suggestionAtCursor(api, editor, 240000, true);
      const where = `line ${at.line + 1}`;
      if (!c) {
        log.push(`${where}: nothing (${api.completionPipeline.lastOutcome.reason})`);
        continue;
      }
      const before = document.getText();
      const after = await commit(editor);
      if (after === undefined) {
        log.push(`${where}: ${JSON.stringify(c.text)} shown, not inserted by the commit`);
        continue;
      }
      // Only the suggestion inserted at the cursor is an accept (its range may replace closers after it).
      assert.ok(
        after.startsWith(before.slice(0, offset) + c.text),
        `${where}: the suggestion ${JSON.stringify(c.text)} was inserted at the cursor: ` +
          JSON.stringify(document.lineAt(at.line).text),
      );
      accepts++;
      log.push(`${where}: ${JSON.stringify(c.text)} -> ${JSON.stringify(document.lineAt(at.line).text)}`);
      // The item's command reports the accept after the edit: let it arrive before the next place.
      await until('the accept to be counted', () => stats.forFile(uri).accepted >= accepts, 10000).catch(
        () => undefined,
      );
    }
    console.log(`      ${log.join('\n      ')}`);
    assert.ok(accepts >= 2, `at least two suggestions accepted (${accepts}): ${log.join('; ')}`);
    // Late reports would show as too many: give them a moment to arrive before comparing.
    await sleep(1000);
    const counts = stats.forFile(uri);
    assert.strictEqual(counts.accepted, accepts, `accepted in this file: ${JSON.stringify(counts)}`);
    assert.ok(counts.shown >= accepts, `shown ${counts.shown} >= accepted ${accepts}`);
    assert.strictEqual(stats.session().accepted - sessionBefore, accepts, 'accepted this session');

    // What the panel shows for the file: the same count.
    await vscode.commands.executeCommand('fastweights.showAdaptationGain');
    const report = await until('a gain panel report on src/accepts.ts', async () => {
      const m = await api.whenGainPanelDone();
      return m && m.type === 'report' && m.report.uri === uri && m.report;
    });
    await until('the gain panel tab', () =>
      vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label === PANEL_TITLE)),
    );
    assert.ok(report.completions, 'the panel has completion statistics');
    assert.strictEqual(report.completions.file.accepted, accepts, 'the panel counts every accept');
    assert.strictEqual(report.completions.session.accepted - sessionBefore, accepts);
    await vscode.window.showTextDocument(document, vscode.ViewColumn.One);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  // Right after an accept the next suggestion comes from the speculative generation or the cache (the paths
  // where a suggestion's id is reused for its continuation): each Tab there is an accept of its own.
  it('accepted count: Tab after Tab where each accept leads to the next suggestion', async function () {
    const file = path.join(workspaceRoot(), 'src', 'tabs.ts');
    const text = [
      'export function area(width: number, height: number): number {',
      '  return width * height;',
      '}',
      '',
      'export function volume(width: number, height: number, depth: number): number {',
      '  ',
      '}',
      '',
    ].join('\n');
    fs.writeFileSync(file, text);
    const { document, editor } = await openInTab(file);
    const uri = document.uri.toString();
    const stats = api.completionStats;
    const at = document.lineAt(5).range.end;
    editor.selection = new vscode.Selection(at, at);
    let accepts = 0;
    const log = [];
    for (let round = 0; round < 5; round++) {
      let c = await suggestionAtCursor(api, editor, 120000, true);
      if (!c) {
        // At the end of an accepted line a person presses Enter and looks again.
        const before = document.getText();
        await vscode.commands.executeCommand('type', { text: '\n' });
        if (document.getText() === before) await editor.edit((b) => b.insert(editor.selection.active, '\n'));
        c = await suggestionAtCursor(api, editor, 120000, true);
      }
      if (!c) break;
      const before = document.getText();
      const offset = document.offsetAt(editor.selection.active);
      const after = await commit(editor);
      log.push(
        `${JSON.stringify(c.text)} id ${c.id}${c.fromCache ? ' (cache)' : ''}${after === undefined ? ' not inserted' : ''}`,
      );
      if (after === undefined) break;
      assert.ok(after.startsWith(before.slice(0, offset) + c.text), `inserted ${JSON.stringify(c.text)}`);
      accepts++;
      await until('the accept to be counted', () => stats.forFile(uri).accepted >= accepts, 10000).catch(
        () => undefined,
      );
    }
    console.log(`      ${log.join('\n      ')}`);
    assert.ok(accepts >= 2, `at least two suggestions accepted in a row (${accepts}): ${log.join('; ')}`);
    await sleep(1000);
    assert.strictEqual(
      stats.forFile(uri).accepted,
      accepts,
      `${JSON.stringify(stats.forFile(uri))}: ${log.join('; ')}`,
    );
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
