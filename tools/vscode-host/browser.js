'use strict';
// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the VS Code workbench.
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.FASTWEIGHTS_CHROMIUM || '/usr/bin/chromium';

// No sandbox (runs as root in containers), no GPU, and nothing that phones home (there is no internet).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A persistent context on a fresh profile folder (Playwright refuses --user-data-dir in args, and a reused
 * profile would bring back old workbench state).
 */
async function launchBrowser(profileDir, { viewport = { width: 1400, height: 900 } } = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found; run tools/vscode-host/install.sh (apt package chromium)`);
  }
  fs.rmSync(profileDir, { recursive: true, force: true });
  fs.mkdirSync(profileDir, { recursive: true });
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return context;
}

/** Waits until the workbench has rendered its editor area. */
async function waitForWorkbench(page, timeout = 60000) {
  await page.waitForSelector('.monaco-workbench .part.editor', { timeout });
}

async function screenshot(page, file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  return file;
}

module.exports = { launchBrowser, waitForWorkbench, screenshot, CHROMIUM_ARGS };
