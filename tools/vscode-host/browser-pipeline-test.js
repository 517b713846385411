#!/usr/bin/env node
'use strict';
// The completion pipeline as a person meets it in the browser. Two cases in one session:
// - inside `primes.map(` the editor has already closed the bracket; the ghost text must fit before it, and
//   Tab must leave exactly one `)`;
// - `const cookies = obj.headers.` a few lines below `for (const [k, v] of obj.headers.entries()) {`: the
//   model is tempted to copy `entries()) {`; whatever it suggests, the accepted line must have no closing
//   bracket that closes nothing and no string left open (postprocess/balance.ts).
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
// The model is warm by the second case; the balance check holds whether or not ghost text comes.
const WARM_TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_BALANCE_TIMEOUT_MS || 60000);
const normalise = (s) => s.replace(/\u00a0/g, ' ');
const count = (s, ch) => s.split(ch).length - 1;

// Written into the workspace before the server starts: the loop header is what the model may copy.
const HEADERS_FILE = [
  'export function logHeaders(obj: { headers: Map<string, string> }): void {',
  '  for (const [k, v] of obj.headers.entries()) {',
  '    console.log(`${k}: ${v}`);',
  '  }',
  '}',
  '',
  'export function cookieHeader(obj: { headers: Map<string, string> }): string | undefined {',
].join('\n');
const COOKIES_LINE = 'const cookies = obj.headers.';

/**
 * Closing brackets on `line` with no opener of their kind before them on it, and whether a '...' or "..."
 * string is still open at its end (a template literal may go on to the next line). Quotes, escapes and a
 * trailing // comment are honoured, so brackets inside them do not count.
 */
function lineBalance(line) {
  const stack = [];
  const strays = [];
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '/' && line[i + 1] === '/') break;
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if ('([{'.includes(c)) stack.push(c);
    else if (')]}'.includes(c)) {
      if (stack[stack.length - 1] === '([{'[')]}'.indexOf(c)]) stack.pop();
      else strays.push(`${c} at column ${i + 1}`);
    }
  }
  return { strays, openString: quote === "'" || quote === '"' };
}

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

/** Opens a workspace file with Ctrl+P, as a person would, and waits for its editor to have focus. */
async function openFile(page, name) {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(name, { delay: TYPE_DELAY_MS });
  await page.waitForSelector('.quick-input-list .monaco-list-row', { state: 'visible' });
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab.active:has-text("${name}")`);
  await page.waitForSelector('.monaco-editor.focused');
}

/** Saves with Ctrl+S and returns the saved file's first line that contains `marker`. */
async function saveAndReadLine(page, file, marker) {
  const before = fs.readFileSync(file, 'utf8');
  await page.keyboard.press('Control+S');
  const deadline = Date.now() + 10000;
  while (fs.readFileSync(file, 'utf8') === before && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.includes(marker));
}

async function ghostText(page) {
  const parts = await page.$$eval('.ghost-text-decoration', (els) => els.map((e) => e.textContent || ''));
  return normalise(parts.join(''));
}

/** Inside `primes.map(` (the editor closed the bracket): Tab leaves exactly one `)`. */
async function closerCase(page, r, { file, out }) {
  await openFile(page, 'inventory.ts');
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
  r.ghostText = await ghostText(page);
  await screenshot(page, path.join(out, 'browser-pipeline-ghost.png'));
  await page.keyboard.press('Tab');
  const line = await saveAndReadLine(page, file, 'const cubes = primes.map(');
  await screenshot(page, path.join(out, 'browser-pipeline-accepted.png'));
  r.savedLine = line;
  if (!line || line.trim() === 'const cubes = primes.map()')
    throw new Error(`Tab inserted nothing: ${JSON.stringify(line)}`);
  if (count(line, ')') > count(line, '('))
    throw new Error(`the closing bracket was duplicated: ${JSON.stringify(line)}`);
}

/**
 * `const cookies = obj.headers.` below a loop over `obj.headers.entries()) {`: whatever ghost text comes (or
 * none within the bounded wait), the line after Tab closes nothing it did not open and leaves no string open.
 */
async function balanceCase(page, r, { headersFile, out }) {
  await openFile(page, 'headers.ts');
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(COOKIES_LINE, { delay: TYPE_DELAY_MS });
  const shown = await waitForGhost(page, WARM_TIMEOUT_MS);
  r.ghostText = shown ? await ghostText(page) : null;
  if (shown) await page.keyboard.press('Tab');
  const balanced = await saveAndReadLine(page, headersFile, COOKIES_LINE);
  await screenshot(page, path.join(out, 'browser-pipeline-balance.png'));
  r.savedLine = balanced;
  if (!balanced) throw new Error(`the typed line is not in the saved file: ${JSON.stringify(COOKIES_LINE)}`);
  const { strays, openString } = lineBalance(balanced);
  const faults = [...strays.map((x) => `stray ${x}`), ...(openString ? ['string left open'] : [])];
  if (faults.length > 0)
    throw new Error(
      `the accepted line is unbalanced (${faults.join(', ')}; ghost text ` +
        `${JSON.stringify(r.ghostText)}): ${JSON.stringify(balanced)}`,
    );
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  for (const f of [
    'browser-pipeline-ghost.png',
    'browser-pipeline-accepted.png',
    'browser-pipeline-balance.png',
    'browser-pipeline-failure.png',
    'browser-pipeline-failure-closer.png',
    'browser-pipeline-failure-balance.png',
  ])
    fs.rmSync(path.join(opts.out, f), { force: true });
  const base = makeRunDir('browser-pipeline');
  const workspace = path.join(base, 'workspace');
  fs.cpSync(path.join(HERE, 'sample-workspace'), workspace, { recursive: true });
  const file = path.join(workspace, 'src', 'inventory.ts');
  const headersFile = path.join(workspace, 'src', 'headers.ts');
  fs.writeFileSync(headersFile, HEADERS_FILE);
  const result = {
    closer: { scenario: 'closing bracket after the cursor is not duplicated' },
    balance: { scenario: 'an accepted suggestion leaves its line balanced' },
  };
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
    // Each case reports on its own: a failure of the first does not hide the second.
    for (const [name, run] of [
      ['closer', closerCase],
      ['balance', balanceCase],
    ]) {
      try {
        await run(page, result[name], { file, headersFile, out: opts.out });
        result[name].ok = true;
      } catch (e) {
        result[name].ok = false;
        result[name].error = String(e.message || e);
        await screenshot(page, path.join(opts.out, `browser-pipeline-failure-${name}.png`)).catch(() => {});
      }
    }
    const failed = [result.closer, result.balance].filter((r) => !r.ok);
    result.ok = failed.length === 0;
    if (!result.ok) result.error = failed.map((r) => `${r.scenario}: ${r.error}`).join('; ');
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
