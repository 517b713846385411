#!/usr/bin/env node
'use strict';
// The extension as a person uses it: install the VSIX into a fresh code-server, open a TypeScript file in
// headless Chromium, type, wait for ghost text, press Tab, save, and check the file on disk.
//
//   node tools/vscode-host/browser-test.js --vsix fastweights-linux-x64-0.1.0.vsix [--out test-artifacts]
//
// Two rounds: the first (cold) waits for activation and model start-up, re-asking with Alt+\ as a person
// would; the second (warm) measures the time from the last keystroke to ghost text, in the page's own clock.
// Then the adaptation gain panel (browser-panel.js): screenshots in a dark, a light and a high-contrast theme,
// a click on its chart, its reset button. Every request of the page, its frames (the panel's webview) and
// service workers is recorded (browser-network.js): the test fails if one goes anywhere but this code-server.
// Writes PNG screenshots, browser-test.json and browser-network.json (each request) into the output folder.
const fs = require('fs');
const path = require('path');
const util = require('util');
const { startServer, workbenchUrl, makeRunDir, HERE } = require('./server');
const { launchBrowser, waitForWorkbench, screenshot } = require('./browser');
const { exercisePanel } = require('./browser-panel');
const { recordNetwork } = require('./browser-network');
const { readmeScreenshot, editorAroundCursor } = require('./readme-screenshots');

const REPO = path.resolve(HERE, '..', '..');
const GHOST = '.ghost-text-decoration';
const TYPE_DELAY_MS = 40; // between keystrokes, a quick typist
const COLD_TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_COLD_TIMEOUT_MS || 180000);
const WARM_TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_WARM_TIMEOUT_MS || 30000);
// Model start-up and the first state of the file, on a machine that may be busy with other work.
const READY_TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_READY_TIMEOUT_MS || 300000);
const PANEL_TIMEOUT_MS = Number(process.env.FASTWEIGHTS_BROWSER_PANEL_TIMEOUT_MS || 120000);

const ARTIFACTS = [
  'browser-ghost-cold.png',
  'browser-ghost-text.png',
  'browser-accepted.png',
  'gain-panel-dark.png',
  'gain-panel-light.png',
  'gain-panel-high-contrast.png',
  'gain-panel-after-reset.png',
  'browser-failure.png',
  'browser-test.json',
  'browser-network.json',
  'browser-logs',
];

// The editor renders spaces as U+00A0.
const normalise = (s) => s.replace(/\u00a0/g, ' ');

function parseArgs(argv) {
  const { values } = util.parseArgs({
    args: argv,
    options: { vsix: { type: 'string' }, out: { type: 'string' }, workspace: { type: 'string' } },
  });
  if (!values.vsix || !fs.existsSync(values.vsix)) throw new Error('give --vsix <existing .vsix file>');
  return {
    vsix: path.resolve(values.vsix),
    out: path.resolve(values.out ?? path.join(REPO, 'test-artifacts')),
    workspace: path.resolve(values.workspace ?? path.join(HERE, 'sample-workspace')),
  };
}

// In-page probe: every keydown stamps the time and clears the mark; the first DOM change after it that
// shows ghost text stamps ghostAt. Both on performance.now(), so the latency excludes Playwright's polling.
function installProbe(ghostSelector) {
  const probe = { lastKey: 0, ghostAt: 0 };
  window.__fwProbe = probe;
  document.addEventListener(
    'keydown',
    () => {
      probe.lastKey = performance.now();
      probe.ghostAt = 0;
    },
    true,
  );
  new MutationObserver(() => {
    if (probe.lastKey && !probe.ghostAt && document.querySelector(ghostSelector))
      probe.ghostAt = performance.now();
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}

async function ghostText(page) {
  const parts = await page.$$eval(GHOST, (els) => els.map((e) => e.textContent || ''));
  return normalise(parts.join(''));
}

/**
 * Waits for ghost text. With retriggerMs, re-asks with Alt+\ (editor.action.inlineSuggest.trigger) when
 * nothing came, backing off (x2, at most 60 s) so that a slow first completion is not cancelled over and over.
 */
async function waitForGhost(page, timeoutMs, retriggerMs) {
  const deadline = Date.now() + timeoutMs;
  let interval = retriggerMs || timeoutMs;
  while (Date.now() < deadline) {
    const wait = Math.min(interval, deadline - Date.now());
    if (
      await page.waitForSelector(GHOST, { timeout: wait }).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (retriggerMs) await page.keyboard.press('Alt+Backslash');
    interval = Math.min(interval * 2, 60000);
  }
  return false;
}

/** The accessible labels of the status bar entries that name FastWeights (the entry reads its tooltip). */
function fastWeightsLabels() {
  return [...document.querySelectorAll('.statusbar-item, .statusbar-item [aria-label]')]
    .map((e) => e.getAttribute('aria-label') || '')
    .filter((l) => /FastWeights/.test(l));
}

/** Waits until a status bar entry's accessible label matches `pattern`; returns that label. */
async function waitForLabel(page, pattern, timeoutMs, what) {
  try {
    const found = await page.waitForFunction(
      (source) =>
        [...document.querySelectorAll('.statusbar-item, .statusbar-item [aria-label]')]
          .map((e) => e.getAttribute('aria-label') || '')
          .find((l) => new RegExp(source).test(l)) || false,
      pattern.source,
      { timeout: timeoutMs, polling: 250 },
    );
    return await found.jsonValue();
  } catch {
    const now = await page.evaluate(fastWeightsLabels).catch(() => []);
    throw new Error(
      `the extension did not report ${what} within ${timeoutMs} ms (status bar: ${JSON.stringify(now)})`,
    );
  }
}

/**
 * Waits until the extension says, in its status bar entry, that the model is loaded and the active file's
 * state is built ("FastWeights: ready on CPU; state from N tokens" with N > 0). The cold round then waits
 * for what a person waits for once the model is up, not for start-up on a machine busy with other work.
 */
function waitForReady(page, timeoutMs) {
  const what = "its model ready and the file's state built";
  return waitForLabel(page, /FastWeights: ready on \w+; state from [1-9]/, timeoutMs, what);
}

/** The last lines of the extension host log and the FastWeights output channel log under `dir`, on stderr. */
function printExtensionLog(dir, lines = 120) {
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    if (!/(FastWeights|remoteexthost)\.log$/.test(String(f))) continue;
    const text = fs
      .readFileSync(path.join(dir, String(f)), 'utf8')
      .trimEnd()
      .split('\n');
    console.error(`[browser-test] ${f} (last ${Math.min(lines, text.length)} of ${text.length} lines):`);
    console.error(text.slice(-lines).join('\n'));
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  // Screenshots left from an earlier run would pass for this run's.
  for (const f of ARTIFACTS) fs.rmSync(path.join(opts.out, f), { recursive: true, force: true });
  const base = makeRunDir('browser');
  const workspace = path.join(base, 'workspace');
  fs.cpSync(opts.workspace, workspace, { recursive: true });
  const file = path.join(workspace, 'src', 'inventory.ts');
  const result = { vsix: opts.vsix, file: 'src/inventory.ts' };
  const t0 = Date.now();

  const server = await startServer({
    base,
    folder: workspace,
    vsix: opts.vsix,
    // The suggest widget would compete with ghost text for Tab; this test is about the ghost text.
    settings: {
      'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
      'editor.suggestOnTriggerCharacters': false,
      'editor.parameterHints.enabled': false,
    },
  });
  result.serverStartMs = Date.now() - t0;
  let context;
  let page;
  let network;
  try {
    // Tall enough that the gain panel's screenshots show all of it.
    context = await launchBrowser(path.join(base, 'chromium-profile'), {
      viewport: { width: 1400, height: 1300 },
    });
    // Every request of the page, its frames (the webviews') and service workers, for the no-network check.
    network = recordNetwork(context, workbenchUrl(server));
    network.phase('workbench');
    page = context.pages()[0] || (await context.newPage());
    await page.goto(workbenchUrl(server));
    await waitForWorkbench(page);
    await page.evaluate(installProbe, GHOST);

    // Open the file the way a person does: Quick Open, type the name, Enter.
    await page.locator('.monaco-workbench .part.editor').click();
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('inventory.ts', { delay: TYPE_DELAY_MS });
    await page.waitForSelector('.quick-input-list .monaco-list-row', { state: 'visible' });
    await page.keyboard.press('Enter');
    await page.waitForSelector('.tab.active:has-text("inventory.ts")');
    await page.waitForSelector('.monaco-editor.focused');
    result.fileOpenMs = Date.now() - t0;
    result.readyLabel = await waitForReady(page, READY_TIMEOUT_MS);
    result.readySinceOpenMs = Date.now() - t0 - result.fileOpenMs;
    // The workspace index (issue 24): the same entry names it once built (its other lines said "indexing").
    const indexed = /workspace index: [1-9][\d,]* files, [1-9][\d,]* tokens/;
    result.indexLabel = await waitForLabel(page, indexed, READY_TIMEOUT_MS, 'the workspace index built');

    // Round 1 (cold): a new function at the end of the file, the first request of the model; re-ask now
    // and then as a person would.
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('export function formatPrice(value: number, currency: string): string {', {
      delay: TYPE_DELAY_MS,
    });
    await page.keyboard.press('Enter');
    await page.keyboard.type('const rounded = Math.', { delay: TYPE_DELAY_MS });
    const coldStart = Date.now();
    if (!(await waitForGhost(page, COLD_TIMEOUT_MS, 10000)))
      throw new Error(
        `no ghost text within ${COLD_TIMEOUT_MS} ms of the last keystroke after the model was ready (cold)`,
      );
    result.coldGhostMs = Date.now() - coldStart; // after the last keystroke of round 1
    result.coldGhostSinceOpenMs = Date.now() - t0 - result.fileOpenMs;
    result.coldGhostText = await ghostText(page);
    await screenshot(page, path.join(opts.out, 'browser-ghost-cold.png'));
    await page.keyboard.press('Escape');

    // Round 2 (warm): finish the line by hand, start the next one, measure keystroke -> ghost text, accept it.
    await page.keyboard.type('round(value * 100) / 100;', { delay: TYPE_DELAY_MS });
    await page.keyboard.press('Enter');
    const typedLine = 'return currency + rounded.to';
    await page.keyboard.type(typedLine, { delay: TYPE_DELAY_MS });
    if (!(await waitForGhost(page, WARM_TIMEOUT_MS, 0)))
      throw new Error(`no ghost text within ${WARM_TIMEOUT_MS} ms of the last keystroke (warm)`);
    const probe = await page.evaluate(() => window.__fwProbe);
    result.warmGhostMs = Math.round(probe.ghostAt - probe.lastKey);
    const suggestion = await ghostText(page);
    result.warmGhostText = suggestion;
    await screenshot(page, path.join(opts.out, 'browser-ghost-text.png'));
    await readmeScreenshot(page, 'ghost-text', () => editorAroundCursor(page)); // FASTWEIGHTS_SCREENSHOTS=1

    await page.keyboard.press('Tab');
    await page.waitForSelector(GHOST, { state: 'detached', timeout: 5000 }).catch(() => {});
    const before = fs.readFileSync(file, 'utf8');
    await page.keyboard.press('Control+S');
    const saveDeadline = Date.now() + 10000;
    while (fs.readFileSync(file, 'utf8') === before && Date.now() < saveDeadline)
      await new Promise((r) => setTimeout(r, 100));
    await screenshot(page, path.join(opts.out, 'browser-accepted.png'));

    // The saved line must be what was typed followed by the suggestion's first line.
    const saved = fs.readFileSync(file, 'utf8');
    const expected = typedLine + suggestion.split('\n')[0];
    const line = saved.split('\n').find((l) => l.includes(typedLine));
    result.savedLine = line;
    if (!line || line.trim() !== expected.trim()) {
      throw new Error(
        `Tab did not insert the suggestion: expected ${JSON.stringify(expected.trim())}, saved ${JSON.stringify(line)}`,
      );
    }

    network.phase('panel');
    await exercisePanel(page, opts.out, result, PANEL_TIMEOUT_MS);
    // Nothing may leave the machine: every request of the session (the panel's webview frames included)
    // goes to this code-server or is answered inside the browser.
    await network.settle();
    result.network = { requests: network.summary() };
    const offenders = network.offenders();
    if (offenders.length > 0) {
      result.network.offenders = offenders;
      throw new Error(
        `${offenders.length} request(s) left the machine: ` +
          offenders.map((o) => `${o.url} (${o.why}; during: ${o.phase})`).join('; '),
      );
    }
    result.ok = true;
  } catch (e) {
    result.ok = false;
    result.error = String(e.message || e);
    if (page) await screenshot(page, path.join(opts.out, 'browser-failure.png')).catch(() => {});
    // The extension's status bar entry says whether it activated and its model is ready.
    if (page) {
      result.statusBar = await page
        .$$eval('.statusbar-item', (els) =>
          els.map((e) => e.textContent.trim()).filter((t) => /fastweights/i.test(t)),
        )
        .catch(() => undefined);
    }
  } finally {
    result.totalMs = Date.now() - t0;
    fs.writeFileSync(path.join(opts.out, 'browser-test.json'), JSON.stringify(result, null, 2) + '\n');
    if (network) {
      fs.writeFileSync(
        path.join(opts.out, 'browser-network.json'),
        JSON.stringify(network.entries, null, 2) + '\n',
      );
    }
    if (context) await context.close().catch(() => {});
    await server.stop();
    // The workbench and extension host logs (the extension's output channel among them) tell why a run
    // failed; CI keeps only the console, so a failure also prints the extension's own log there.
    const logs = path.join(server.dirs.userData, 'logs');
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(opts.out, 'browser-logs'), { recursive: true });
    if (!result.ok) printExtensionLog(path.join(opts.out, 'browser-logs'));
    fs.rmSync(base, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[browser-test] ${e.message || e}`);
    process.exit(1);
  },
);
