'use strict';
// Reliability in a real extension host: bad inputs, broken model folders and their repair, CUDA asked for
// without its libraries, bursts of edits, many open files, rapid switching, the event-loop delay while a
// large file adapts, and no outbound connection or file write during all of it.
// `FASTWEIGHTS_HOST_GREP=reliab npm run test:host` runs only these.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const vscode = require('vscode');
const netWatch = require('./netWatch');

// Installed when mocha loads this file: before any test runs, so before the extension does anything here.
const network = netWatch.install();

const EXTENSION_ID = process.env.FASTWEIGHTS_TEST_EXTENSION_ID || 'fastweights.fastweights';
const LINE = 'export const value = compute(alpha, beta) + offset; // a typical line\n';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function workspaceRoot() {
  return vscode.workspace.workspaceFolders[0].uri.fsPath;
}

/** Writes a file under reliability/ in the workspace; returns its path. */
function writeFile(name, content) {
  const file = path.join(workspaceRoot(), 'reliability', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

async function waitFor(what, check, ms = 60000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** path -> "size mtime" of every file under `dir` (relative paths). */
function snapshot(dir) {
  const out = new Map();
  for (const rel of fs.readdirSync(dir, { recursive: true })) {
    const st = fs.statSync(path.join(dir, rel), { throwIfNoEntry: false });
    if (st && st.isFile()) out.set(rel, `${st.size} ${st.mtimeMs}`);
  }
  return out;
}
// Taken before any test of this run uses the extension (mocha loads every file first).
const initial = {
  extension: snapshot(vscode.extensions.getExtension(EXTENSION_ID).extensionPath),
};

/**
 * Records every file-writing call made from the extension's own code (its bundle in the stack) in this
 * process. The test suites write and save fixture files into the workspace themselves, so a snapshot of
 * the workspace cannot tell their writes from the extension's; the call stack can.
 */
function recordExtensionWrites(extensionDir) {
  const writes = [];
  const wrap = (owner, name) => {
    const original = owner[name];
    if (typeof original !== 'function') return;
    owner[name] = function (target, ...rest) {
      const stack = new Error().stack || '';
      if (stack.includes(extensionDir)) writes.push(`${name} ${String(target)}`);
      return original.call(this, target, ...rest);
    };
  };
  for (const name of ['writeFileSync', 'writeFile', 'appendFileSync', 'appendFile', 'createWriteStream']) {
    wrap(fs, name);
  }
  for (const name of ['mkdirSync', 'copyFileSync', 'renameSync']) wrap(fs, name);
  for (const name of ['writeFile', 'appendFile', 'mkdir', 'rename']) wrap(fs.promises, name);
  return writes;
}
const extensionWrites = recordExtensionWrites(
  path.join(vscode.extensions.getExtension(EXTENSION_ID).extensionPath, 'out'),
);

describe('reliability in a real extension host', function () {
  let api;
  let extensionPath;

  before(async function () {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    extensionPath = extension.extensionPath;
    api = await extension.activate();
    await api.runtimeReady;
    assert.strictEqual(api.status, 'ready', `runtime status (error: ${api.error})`);
  });

  /** The editor still works: a user edit applies, and the extension answers for a normal file. */
  async function editorStillWorks() {
    const doc = await vscode.workspace.openTextDocument({
      language: 'typescript',
      content: 'const a = 1;\n',
    });
    const editor = await vscode.window.showTextDocument(doc);
    assert.ok(await editor.edit((b) => b.insert(doc.positionAt(doc.getText().length), 'const b = ')));
    const info = await api.whenDocumentStateReady(doc.uri);
    assert.ok(info, 'a state for an ordinary document');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }

  describe('reliability: bad inputs', function () {
    const cases = [
      { name: 'empty.ts', content: '', skip: null },
      {
        name: 'latin1.ts',
        content: Buffer.from('const caf\xe9 = "na\xefve";\nconst x = ', 'latin1'),
        skip: null,
      },
      { name: 'long-lines.ts', content: `const s = "${'ab '.repeat(1300)}";\n`.repeat(2), skip: null },
      { name: 'hundred-k-lines.ts', content: LINE.repeat(100000), skip: null },
      { name: 'minified.js', content: 'var a=1,b=function(c){return c+1};'.repeat(31000), skip: /^minified/ },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.skip ? 'left alone with a status bar hint' : 'adapts'}, text unchanged`, async function () {
        const file = writeFile(c.name, c.content);
        const doc = await vscode.workspace.openTextDocument(file);
        const before = doc.getText();
        await vscode.window.showTextDocument(doc);
        const info = await api.whenDocumentStateReady(doc.uri);
        if (c.skip) {
          assert.match(api.skipReason(doc.uri) || '', c.skip);
          assert.strictEqual(info.tokens, 0, 'nothing adapted');
          assert.match(api.statusBar.tooltip, /off for this file/);
        } else {
          assert.strictEqual(api.skipReason(doc.uri), undefined);
          assert.strictEqual(info.builtVersion, doc.version, 'the state was built');
          if (before.length > 0) assert.ok(info.tokens > 0);
        }
        assert.strictEqual(doc.getText(), before, 'the document text is unchanged');
        assert.strictEqual(doc.isDirty, false);
        console.log(`      ${c.name}: ${api.skipReason(doc.uri) || `${info.tokens} tokens adapted`}`);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      });
    }

    it('binary content: VS Code refuses the file, or the guard leaves it alone', async function () {
      const file = writeFile('binary.ts', Buffer.from([0x63, 0x6f, 0, 1, 2, 0xff, 0xfe, 0, 0x0a, 0x41]));
      let outcome;
      try {
        const doc = await vscode.workspace.openTextDocument(file);
        await api.whenDocumentStateReady(doc.uri);
        assert.strictEqual(api.skipReason(doc.uri), 'binary content');
        outcome = 'opened, left alone';
      } catch (e) {
        outcome = `VS Code refused it: ${e.message}`;
      }
      // The guard itself, on an editor VS Code does open: an untitled document holding a NUL.
      const untitled = await vscode.workspace.openTextDocument({ language: 'typescript', content: 'a\0b' });
      await vscode.window.showTextDocument(untitled);
      await api.whenDocumentStateReady(untitled.uri);
      assert.strictEqual(api.skipReason(untitled.uri), 'binary content');
      assert.match(api.statusBar.tooltip, /off for this file: binary content/);
      console.log(`      binary file: ${outcome}; untitled with NUL: left alone`);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      await editorStillWorks();
    });

    it('a 50 MB file: VS Code does not sync it, or the guard leaves it alone', async function () {
      const file = writeFile('fifty-mb.ts', LINE.repeat(Math.ceil((50 * 1024 * 1024) / LINE.length)));
      let outcome;
      try {
        const doc = await vscode.workspace.openTextDocument(file);
        await api.whenDocumentStateReady(doc.uri);
        assert.match(api.skipReason(doc.uri) || '', /^file too large/);
        outcome = 'opened, left alone';
      } catch (e) {
        outcome = `VS Code refused it: ${e.message}`;
      }
      console.log(`      50 MB file: ${outcome}`);
      fs.rmSync(file);
      await editorStillWorks();
    });

    it('untitled documents adapt; a language the model does not serve is off', async function () {
      const untitled = await vscode.workspace.openTextDocument({ language: 'typescript', content: LINE });
      const info = await api.whenDocumentStateReady(untitled.uri);
      assert.ok(info && info.tokens > 0, 'untitled TypeScript adapts');
      // Lua was neither trained on nor measured (Go, Rust and ten others are served by default now).
      const lua = await vscode.window.showTextDocument(
        await vscode.workspace.openTextDocument(
          writeFile('main.lua', 'local function main()\n  local v = 1\n'),
        ),
      );
      assert.strictEqual(api.getDocumentState(lua.document.uri), undefined, 'no state for Lua');
      assert.match(api.statusBar.tooltip, /off for this editor/);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });

    it('a read-only document: adapts, and no suggestion changes it', async function () {
      const settings = vscode.workspace.getConfiguration('files');
      await settings.update('readonlyInclude', { '**/reliability/readonly/**': true }, true);
      try {
        const file = writeFile(
          'readonly/locked.ts',
          `${LINE}export function total(items: number[]) {\n  return items.`,
        );
        const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
        const before = editor.document.getText();
        editor.selection = new vscode.Selection(
          editor.document.positionAt(before.length),
          editor.document.positionAt(before.length),
        );
        await api.whenDocumentStateReady(editor.document.uri);
        for (let i = 0; i < 5; i++) {
          await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
          await sleep(500);
          await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
        }
        assert.strictEqual(editor.document.getText(), before, 'the read-only document is unchanged');
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      } finally {
        await settings.update('readonlyInclude', undefined, true);
      }
    });

    it('notebook cells: completions may be offered, nothing breaks', async function () {
      let notebook;
      try {
        const cell = new vscode.NotebookCellData(
          vscode.NotebookCellKind.Code,
          'import os\nvalue = os.',
          'python',
        );
        notebook = await vscode.workspace.openNotebookDocument(
          'jupyter-notebook',
          new vscode.NotebookData([cell]),
        );
      } catch (e) {
        console.log(`      no notebook support in this host (${e.message})`);
        this.skip();
      }
      await vscode.window.showNotebookDocument(notebook);
      const cellDoc = notebook.cellAt(0).document;
      const before = cellDoc.getText();
      const count = api.completionCount;
      await vscode.commands.executeCommand('notebook.cell.edit');
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await sleep(3000);
      assert.strictEqual(cellDoc.getText(), before, 'the cell is unchanged without an accept');
      const last = api.lastCompletion;
      console.log(
        `      notebook cell: ${api.completionCount > count && last ? `suggested ${JSON.stringify(last.text)}` : 'no suggestion'}`,
      );
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      await editorStillWorks();
    });
  });

  describe('reliability: model folder faults and recovery', function () {
    let shipped;
    let broken;

    before(function () {
      shipped = api.providerInfo.modelDir;
      // Links to the shipped files, so one can be spoiled and restored without copying the model.
      broken = fs.mkdtempSync(path.join(os.tmpdir(), 'fastweights-broken-model-'));
      for (const f of fs.readdirSync(shipped)) {
        const p = path.join(shipped, f);
        if (fs.statSync(p).isFile()) fs.symlinkSync(p, path.join(broken, f));
      }
    });

    after(async function () {
      delete process.env.FASTWEIGHTS_MODEL_DIR;
      await vscode.commands.executeCommand('fastweights.reloadModel');
      await api.runtimeReady;
      assert.strictEqual(api.status, 'ready');
      fs.rmSync(broken, { recursive: true, force: true });
    });

    const faults = [
      {
        what: 'a missing tokenizer',
        files: ['tokenizer.json'],
        spoil: (p) => fs.rmSync(p),
        message: /tokenizer "tokenizer.json" is missing/,
      },
      {
        // Both precisions of the body: the extension may run either.
        what: 'a truncated graph',
        files: ['body.onnx', 'body.int8.onnx'],
        spoil: (p) => {
          const bytes = fs.readFileSync(p);
          fs.rmSync(p);
          fs.writeFileSync(p, bytes.subarray(0, bytes.length >> 1));
        },
        message: /could not load the graphs/,
      },
    ];
    for (const f of faults) {
      it(`${f.what}: error in the status bar, no suggestions, recovers when the file is restored`, async function () {
        const targets = f.files.map((name) => path.join(broken, name)).filter((p) => fs.existsSync(p));
        targets.forEach(f.spoil);
        process.env.FASTWEIGHTS_MODEL_DIR = broken;
        await vscode.commands.executeCommand('fastweights.reloadModel');
        await api.runtimeReady;
        assert.strictEqual(api.status, 'error');
        assert.match(api.error, f.message);
        assert.match(api.statusBar.text, /\$\(error\)/);
        assert.match(api.statusBar.tooltip, f.message);
        const shown = api.error;

        // Nothing is offered while the model is broken, and the editor keeps working.
        const editor = await vscode.window.showTextDocument(
          await vscode.workspace.openTextDocument({
            language: 'typescript',
            content: `${LINE}const total = value.`,
          }),
        );
        const count = api.completionCount;
        await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
        await sleep(1500);
        assert.strictEqual(api.completionCount, count, 'no completion from a broken model');
        assert.ok(await editor.edit((b) => b.insert(new vscode.Position(0, 0), '// typed\n')));
        await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');

        // Restoring the file is enough: the folder watch reloads the model.
        for (const target of targets) {
          fs.rmSync(target, { force: true });
          fs.symlinkSync(path.join(shipped, path.basename(target)), target);
        }
        await waitFor('the model to reload after the fix', () => api.status === 'ready');
        console.log(`      ${f.what}: "${shown.replace(broken, '<model>')}" -> recovered`);
      });
    }
  });
  describe('reliability: execution provider', function () {
    it("'cuda' without the CUDA libraries: runs on the CPU and says why", async function () {
      const settings = vscode.workspace.getConfiguration('fastweights');
      await settings.update('executionProvider', 'cuda', true);
      try {
        await waitFor(
          'the reload for the new provider',
          () => api.providerInfo && api.providerInfo.requested === 'cuda',
        );
        await api.runtimeReady;
        if (api.provider === 'cuda') this.skip(); // CUDA is installed here: nothing falls back
        assert.strictEqual(api.status, 'ready');
        assert.strictEqual(api.provider, 'cpu');
        assert.match(api.providerInfo.fallbackReason || '', /CUDA provider unavailable/);
        await vscode.window.showTextDocument(
          await vscode.workspace.openTextDocument(writeFile('cuda.ts', LINE)),
        );
        assert.match(api.statusBar.tooltip, /CUDA provider unavailable/);
        console.log(`      ${api.providerInfo.fallbackReason.slice(0, 100)}...`);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      } finally {
        await settings.update('executionProvider', undefined, true);
        await waitFor(
          'the reload back to auto',
          () => api.providerInfo && api.providerInfo.requested === 'auto',
        );
        await api.runtimeReady;
      }
    });
  });

  describe('reliability: load', function () {
    /** A small distinct TypeScript file: one state chunk, so 200 of them build in reasonable time. */
    const smallFile = (i) =>
      `export interface Item${i} {\n  id: number;\n  name: string;\n}\n\n` +
      `export function total${i}(items: Item${i}[]): number {\n  let sum = 0;\n` +
      `  for (const item of items) sum += item.id * ${i};\n  return sum;\n}\n`;

    it('a burst of 1,000 edits: all applied, the state ends at the last version', async function () {
      const doc = await vscode.workspace.openTextDocument(writeFile('burst.ts', smallFile(0)));
      const editor = await vscode.window.showTextDocument(doc);
      const start = doc.getText().length;
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const t0 = Date.now();
      for (let i = 0; i < 1000; i++) {
        assert.ok(
          await editor.edit((b) =>
            b.insert(doc.positionAt(doc.getText().length), i % 40 === 39 ? '\n' : 'x'),
          ),
        );
      }
      const ms = Date.now() - t0;
      const info = await api.whenDocumentStateReady(doc.uri);
      lag.disable();
      assert.strictEqual(doc.getText().length, start + 1000, 'every edit applied once');
      assert.strictEqual(info.builtVersion, doc.version, 'the state is built from the last version');
      console.log(
        `      1,000 edits in ${ms} ms; event-loop delay max ${(lag.max / 1e6).toFixed(1)} ms, ` +
          `p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`,
      );
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    });

    it('200 open files: the states stay within the memory budget', async function () {
      // A budget well below 200 files' states, so that eviction does the work (where the setting exists).
      const settings = vscode.workspace.getConfiguration('fastweights');
      await settings.update('adaptation.maxMemoryMB', 64, true).catch(() => undefined);
      const budgetMB = vscode.workspace.getConfiguration('fastweights').get('adaptation.maxMemoryMB') || 256;
      let peakRss = 0;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
      const docs = [];
      try {
        for (let i = 0; i < 200; i++) {
          docs.push(await vscode.workspace.openTextDocument(writeFile(`many/file${i}.ts`, smallFile(i))));
        }
        for (const doc of docs) await api.whenDocumentStateReady(doc.uri);
      } finally {
        clearInterval(sampler);
        await settings.update('adaptation.maxMemoryMB', undefined, true).catch(() => undefined);
      }
      // VS Code may close documents that have no editor whenever it likes; count the ones still open.
      const open = docs.filter((d) => !d.isClosed);
      const infos = open.map((d) => api.getDocumentState(d.uri)).filter(Boolean);
      const stateMB = infos.reduce((a, i) => a + i.bytes, 0) / 1048576;
      const kept = infos.filter((i) => i.tokens > 0).length;
      console.log(
        `      200 files (${open.length} still open): ${kept} states kept, ${stateMB.toFixed(0)} MB of states ` +
          `(budget ${budgetMB} MB), peak extension host RSS ${(peakRss / 1048576).toFixed(0)} MB`,
      );
      assert.ok(kept > 0, 'some states are kept');
      assert.ok(stateMB <= budgetMB, `states take ${stateMB.toFixed(0)} MB, over the ${budgetMB} MB budget`);
    });

    it('20 files of 800 lines opened one after the other all stay adapted within the default budget', async function () {
      // 20 builds of about 6,500 tokens each: 90-150 s on a quiet 2-core machine, over 180 s on a busy one.
      this.timeout(600000);
      // Ordinary TypeScript of the sample workspace, its names made distinct per file and per copy.
      const src = path.join(workspaceRoot(), 'src');
      const base = ['inventory.ts', 'retry.ts']
        .map((f) => fs.readFileSync(path.join(src, f), 'utf8'))
        .join('\n');
      const fileOf = (i) => {
        const lines = [];
        for (let copy = 0; lines.length < 800; copy++) {
          lines.push(...base.replace(/\b([A-Za-z]\w{3,})\b/g, `$1_${i}_${copy}`).split('\n'));
        }
        return lines.slice(0, 800).join('\n');
      };
      const budgetMB = vscode.workspace.getConfiguration('fastweights').get('adaptation.maxMemoryMB');
      assert.strictEqual(budgetMB, 256, 'the default budget');
      const docs = [];
      for (let i = 0; i < 20; i++) {
        const doc = await vscode.workspace.openTextDocument(
          writeFile(`eight-hundred/file${i}.ts`, fileOf(i)),
        );
        const editor = await vscode.window.showTextDocument(doc, { preview: false });
        // The cursor in the middle, as a person working in it.
        const middle = new vscode.Position(400, 0);
        editor.selection = new vscode.Selection(middle, middle);
        await api.whenDocumentStateReady(doc.uri);
        docs.push(doc);
      }
      const infos = docs.map((d) => api.getDocumentState(d.uri));
      const current = infos.filter(
        (x, k) => x && x.tokens > 0 && !x.dropped && x.builtVersion === docs[k].version,
      );
      const mb = infos.reduce((a, x) => a + (x ? x.bytes : 0), 0) / 1048576;
      const folded = infos.filter((x) => x && x.folded).length;
      console.log(
        `      20 files of 800 lines (${infos[0] && infos[0].tokens} tokens in the first): ${current.length} ` +
          `hold a current state (${folded} folded), ${mb.toFixed(0)} MB together (budget ${budgetMB} MB)`,
      );
      assert.strictEqual(current.length, 20, JSON.stringify(infos.map((x) => x && [x.tokens, x.dropped])));
      assert.ok(mb <= budgetMB, `${mb.toFixed(0)} MB over the ${budgetMB} MB budget`);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    it('rapid switching between 20 files: the last one adapts, the editor keeps working', async function () {
      const docs = [];
      for (let i = 0; i < 20; i++) {
        docs.push(
          await vscode.workspace.openTextDocument(writeFile(`switch/file${i}.ts`, smallFile(1000 + i))),
        );
      }
      for (let round = 0; round < 5; round++) {
        for (const doc of docs) await vscode.window.showTextDocument(doc, { preview: false });
      }
      const last = vscode.window.activeTextEditor.document;
      const info = await api.whenDocumentStateReady(last.uri);
      assert.ok(info && info.tokens > 0, 'the active file has a state');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await editorStillWorks();
    });

    it('a 20,000-line file adapts without blocking the extension host (event-loop delay logged)', async function () {
      // Python: no language server runs in this host, so the delay measured is FastWeights' (a TypeScript
      // file would add the built-in TypeScript extension's own work on 20,000 lines).
      const base = fs.readFileSync(path.join(workspaceRoot(), 'scripts', 'summarize_logs.py'), 'utf8');
      const lines = [];
      while (lines.length < 20000) lines.push(...base.split('\n'));
      const doc = await vscode.workspace.openTextDocument(
        writeFile('twenty-k.py', lines.slice(0, 20000).join('\n')),
      );
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const t0 = Date.now();
      await vscode.window.showTextDocument(doc);
      const info = await api.whenDocumentStateReady(doc.uri);
      lag.disable();
      assert.ok(info && info.tokens > 0);
      console.log(
        `      20,000 lines: ${info.tokens} tokens adapted in ${Date.now() - t0} ms; extension host event-loop ` +
          `delay max ${(lag.max / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`,
      );
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });
  });

  describe('reliability: nothing leaves the machine, nothing is written', function () {
    it('the connection recorder sees an attempt (it can fail)', function () {
      network.probe('example.com');
      assert.ok(network.all().some((a) => a.api === 'probe' && a.target === 'example.com'));
    });

    it('no outbound connection from the extension during this session', function () {
      const ours = network.attemptsFrom(extensionPath).filter((a) => a.api !== 'probe');
      const others = network.all().filter((a) => a.api !== 'probe');
      console.log(
        `      outbound attempts: ${ours.length} from FastWeights, ${others.length} in the whole extension host; ` +
          `non-loopback sockets of the process: ${network.remoteSockets().length}`,
      );
      assert.deepStrictEqual(
        ours.map((a) => `${a.api} ${a.target}`),
        [],
      );
      assert.deepStrictEqual(
        network.remoteSockets(),
        [],
        'the process (worker included) held no remote socket',
      );
    });

    it('nothing written into the extension folder, and no file write from the extension code', function () {
      const now = snapshot(extensionPath);
      const changed = [...now].filter(([f, stamp]) => initial.extension.get(f) !== stamp).map(([f]) => f);
      assert.deepStrictEqual(changed, [], 'files the extension wrote into its folder');
      assert.deepStrictEqual(extensionWrites, [], 'file writes made by the extension code');
    });
  });
});
