#!/usr/bin/env node
'use strict';
// The completion pipeline as a person meets it in the browser: inside `primes.map(` the editor has already
// closed the bracket; the ghost text must fit before it, and Tab must leave exactly one `)`.
//
//   node tools/vscode-host/browser-pipeline-test.js --vsix fastweights-linux-x64-0.1.0.vsix [--out test-artifacts]
//
// Writes browser-pipeline-*.png and browser-pipeline-test.json into the output folder.
const fs = require('fs');
const path = require('path');
const util = require('util');
const { startServer, workbenchUrl, makeRunDir, HERE } = require('./server');
const { launchBrowser, waitForWorkbench, screenshot } = require('./browser');

const REPO = path.resolve(HERE, '..', '..');
const TYPE_DELAY_MS = 40;
const TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_COLD_TIMEOUT_MS || 180000);
const normalise = (s) => s.replace(/\u00a0/g, ' ');
const count = (s, ch) => s.split(ch).length - 1;

function parseArgs(argv) {
  const { values } = util.parseArgs({
    args: argv,
    options: { vsix: { type: 'string' }, out: { type: 'string' } },
  });
  if (!values.vsix || !fs.existsSync(values.vsix)) throw new Error('give --vsix <existing .vsix file>');
  return {
    vsix: path.resolve(values.vsix),
    out: path.resolve(values.out ?? path.join(REPO, 'test-artifacts')),
  };
}

/** Waits for ghost text, re-asking with Alt+\ now and then (the first request also waits for the model). */
async function waitForGhost(page, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let interval = 10000;
  while (Date.now() < deadline) {
    const wait = Math.min(interval, deadline - Date.now());
    const found = await page.waitForSelector('.ghost-text-decoration', { timeout: wait }).then(
      () => true,
      () => false,
    );
    if (found) return true;
    await page.keyboard.press('Alt+Backslash');
    interval = Math.min(interval * 2, 60000);
  }
  return false;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  for (const f of [
    'browser-pipeline-ghost.png',
    'browser-pipeline-accepted.png',
    'browser-pipeline-failure.png',
  ])
    fs.rmSync(path.join(opts.out, f), { force: true });
  const base = makeRunDir('browser-pipeline');
  const workspace = path.join(base, 'workspace');
  fs.cpSync(path.join(HERE, 'sample-workspace'), workspace, { recursive: true });
  const file = path.join(workspace, 'src', 'inventory.ts');
  const result = { scenario: 'closing bracket after the cursor is not duplicated' };
  const server = await startServer({
    base,
    folder: workspace,
    vsix: opts.vsix,
    settings: {
      'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
      'editor.suggestOnTriggerCharacters': false,
      'editor.parameterHints.enabled': false,
      'editor.autoClosingBrackets': 'always',
      // The whole line the model writes, "(p) => p * p);": it closes the bracket itself and goes on after it.
      'fastweights.minTokenProbability': 0,
    },
  });
  let context;
  let page;
  try {
    context = await launchBrowser(path.join(base, 'chromium-profile'));
    page = context.pages()[0] || (await context.newPage());
    await page.goto(workbenchUrl(server));
    await waitForWorkbench(page);
    await page.locator('.monaco-workbench .part.editor').click();
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('inventory.ts', { delay: TYPE_DELAY_MS });
    await page.waitForSelector('.quick-input-list .monaco-list-row', { state: 'visible' });
    await page.keyboard.press('Enter');
    await page.waitForSelector('.tab.active:has-text("inventory.ts")');
    await page.waitForSelector('.monaco-editor.focused');

    // Typing "(" makes the editor insert ")" after the cursor; the suggestion must fit before it.
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    for (const line of ['const primes = [2, 3, 5, 7, 11];', 'const squares = primes.map((p) => p * p);']) {
      await page.keyboard.type(line, { delay: TYPE_DELAY_MS });
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
    }
    await page.keyboard.type('const cubes = primes.map(', { delay: TYPE_DELAY_MS });
    if (!(await waitForGhost(page, TIMEOUT_MS))) throw new Error(`no ghost text within ${TIMEOUT_MS} ms`);
    result.ghostText = normalise(
      (await page.$$eval('.ghost-text-decoration', (els) => els.map((e) => e.textContent || ''))).join(''),
    );
    await screenshot(page, path.join(opts.out, 'browser-pipeline-ghost.png'));
    await page.keyboard.press('Tab');
    const before = fs.readFileSync(file, 'utf8');
    await page.keyboard.press('Control+S');
    const deadline = Date.now() + 10000;
    while (fs.readFileSync(file, 'utf8') === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await screenshot(page, path.join(opts.out, 'browser-pipeline-accepted.png'));
    const line = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.includes('const cubes = primes.map('));
    result.savedLine = line;
    if (!line || line.trim() === 'const cubes = primes.map()')
      throw new Error(`Tab inserted nothing: ${JSON.stringify(line)}`);
    if (count(line, ')') > count(line, '('))
      throw new Error(`the closing bracket was duplicated: ${JSON.stringify(line)}`);
    result.ok = true;
  } catch (e) {
    result.ok = false;
    result.error = String(e.message || e);
    if (page) await screenshot(page, path.join(opts.out, 'browser-pipeline-failure.png')).catch(() => {});
  } finally {
    fs.writeFileSync(
      path.join(opts.out, 'browser-pipeline-test.json'),
      JSON.stringify(result, null, 2) + '\n',
    );
    if (context) await context.close().catch(() => {});
    await server.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[browser-pipeline-test] ${e.message || e}`);
    process.exit(1);
  },
);
