'use strict';
// The workspace index in a real extension host (issue 24): a function defined in one file of the workspace
// is suggested where another file first calls it, and no longer once fastweights.adaptation.workspace is
// off; files .gitignore lists stay out of the index. Run alone with FASTWEIGHTS_HOST_GREP=workspace
// npm run test:host.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');
const { until, workspaceRoot, suggestionAtCursor } = require('./helpers');

const EXTENSION_ID = process.env.FASTWEIGHTS_TEST_EXTENSION_ID || 'fastweights.fastweights';

// A name the model cannot guess from the calling file: only the other file knows how it goes on.
const DEFINING = [
  "import type { Invoice } from './types';",
  '',
  'export function settleQuarterlyVendorInvoices(invoices: Invoice[], quarter: number): Invoice[] {',
  '  return invoices.filter((invoice) => invoice.quarter === quarter && !invoice.settled);',
  '}',
  '',
].join('\n');
const CALLING = [
  "import type { Invoice } from './types';",
  '',
  'export function closeQuarter(invoices: Invoice[], quarter: number): number {',
  '  const settled = settleQuarterly',
].join('\n');

async function setWorkspaceSetting(value) {
  await vscode.workspace
    .getConfiguration('fastweights')
    .update('adaptation.workspace', value, vscode.ConfigurationTarget.Global);
}

/** Waits for the index to settle (not indexing) on a status that `ok` accepts. */
function indexSettled(api, ok) {
  return until(
    'the workspace index',
    () => {
      const s = api.workspaceIndexStatus();
      return s && !s.indexing && ok(s.text) ? s : undefined;
    },
    180000,
  );
}

describe('workspace adaptation in a real VS Code extension host', function () {
  this.timeout(600000);
  let api;
  const dir = () => path.join(workspaceRoot(), 'src', 'billing');

  before(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    api = await ext.activate();
    await api.runtimeReady;
    fs.mkdirSync(dir(), { recursive: true });
    fs.writeFileSync(path.join(dir(), 'settle.ts'), DEFINING);
  });

  after(async () => {
    await setWorkspaceSetting(undefined);
    fs.rmSync(dir(), { recursive: true, force: true });
  });

  it('suggests a name defined only in another file, and not once workspace adaptation is off', async () => {
    // The defining file was written after start-up: build the index again now (the command resolves once
    // a build that read the files after it was given is done) rather than after the watcher's quiet spell.
    await vscode.commands.executeCommand('fastweights.resetWorkspaceAdaptation');
    const built = await indexSettled(api, (t) => /^workspace index: [1-9]/.test(t));
    const file = path.join(dir(), 'close.ts');
    fs.writeFileSync(file, CALLING + '\n}\n');
    const document = await vscode.workspace.openTextDocument(file);
    const editor = await vscode.window.showTextDocument(document, { preview: false });
    const at = document.positionAt(CALLING.length);
    editor.selection = new vscode.Selection(at, at);
    await api.whenDocumentStateReady(document.uri);

    const withIndex = await suggestionAtCursor(api, editor);
    assert.ok(
      // (Where the model alone is unsure, the suggestion may stop after the first piece of the name.)
      withIndex.text.startsWith('Vend'),
      `with the workspace index (${built.text}): ${JSON.stringify(withIndex.text)}`,
    );

    await setWorkspaceSetting(false);
    await indexSettled(api, (t) => t === 'workspace adaptation off');
    // A newer version of the same text (a character typed and taken back), so the answer is a new one.
    await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    await editor.edit((e) => e.insert(at, 'x'));
    await editor.edit((e) => e.delete(new vscode.Range(at, at.translate(0, 1))));
    editor.selection = new vscode.Selection(at, at);
    const without = await suggestionAtCursor(api, editor, 240000, true);
    assert.ok(
      !without || !without.text.startsWith('Vend'),
      `without the workspace: ${JSON.stringify(without && without.text)}`,
    );
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('leaves out the files .gitignore lists, and takes them in once the rule is gone', async () => {
    await setWorkspaceSetting(undefined);
    const generated = path.join(dir(), 'generated');
    fs.mkdirSync(generated, { recursive: true });
    fs.writeFileSync(path.join(generated, 'ledger.ts'), DEFINING.replace(/settleQuarterly/g, 'postLedger'));
    const filesNow = async () => {
      // The command resolves once a build that read the files after it was given is done.
      await vscode.commands.executeCommand('fastweights.resetWorkspaceAdaptation');
      const status = await indexSettled(api, (t) => /^workspace index: [1-9]/.test(t));
      return Number(/^workspace index: ([\d,]+) files/.exec(status.text)[1].replace(/,/g, ''));
    };
    fs.writeFileSync(path.join(dir(), '.gitignore'), '# generated by a tool\ngenerated/\n');
    const ignoring = await filesNow();
    fs.rmSync(path.join(dir(), '.gitignore'));
    const all = await filesNow();
    assert.strictEqual(all, ignoring + 1, `with the rule: ${ignoring} files; without it: ${all}`);
  });
});
