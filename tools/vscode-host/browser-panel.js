'use strict';
// The adaptation gain panel as a person uses it, for browser-test.js: open it from the command palette,
// wait for its numbers, screenshot it in a dark, a light and a high-contrast theme, click a block of the
// chart (the editor's cursor moves there) and press "Reset this file" (the adapted figure becomes static).
const path = require('path');
const { screenshot } = require('./browser');
const { readmeScreenshot, frameBox } = require('./readme-screenshots');

const TYPE_DELAY_MS = 20;
const THEMES = [
  { name: 'dark', label: 'Dark Modern' },
  { name: 'light', label: 'Light Modern' },
  { name: 'high-contrast', label: 'Dark High Contrast' },
];

async function runCommand(page, title) {
  await page.keyboard.press('Control+Shift+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(title, { delay: TYPE_DELAY_MS });
  // Click the command itself: a similarly named one may rank first ("Browse Color Themes in Marketplace").
  await page.click(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`);
}

/** The panel page's frame: webviews nest the page two iframes deep. */
async function panelFrame(page, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$('#reset-file').catch(() => null)) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the gain panel page did not appear');
}

/** Waits until the panel shows a report that is not being updated, and returns its headline texts. */
async function settledHeadline(frame, timeoutMs) {
  await frame.waitForFunction(
    () =>
      !document.getElementById('content').hidden &&
      document.getElementById('progress').hidden &&
      document.querySelector('#chart svg') !== null,
    undefined,
    { timeout: timeoutMs },
  );
  return frame.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent;
    return {
      file: text('file'),
      static: text('static'),
      adapted: text('adapted'),
      gain: text('gain'),
      stateTokens: text('state-tokens'),
      stateStatus: text('state-status'),
      blocks: document.querySelectorAll('#chart .hit').length,
    };
  });
}

async function setTheme(page, label) {
  await runCommand(page, 'Preferences: Color Theme');
  // The theme picker replaces the command palette in the same widget.
  await page.waitForFunction(() => {
    const input = document.querySelector('.quick-input-widget input');
    return (
      input && /theme/i.test(input.getAttribute('placeholder') || input.getAttribute('aria-label') || '')
    );
  });
  await page.keyboard.type(label, { delay: TYPE_DELAY_MS });
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${label}"]`, {
    state: 'visible',
  });
  await page.keyboard.press('Enter');
  await page.waitForTimeout(1500); // the webview picks up the new theme variables
}

/** Line and column of the editor's cursor, from the status bar ("Ln 12, Col 1 (40 selected)"). */
async function cursorLine(page) {
  const text = await page.textContent('.statusbar-item[id="status.editor.selection"]');
  const m = /Ln (\d+)/.exec(text || '');
  return m ? Number(m[1]) : undefined;
}

/** Opens the panel beside the active editor and exercises it; fills `result.panel`, writes screenshots. */
async function exercisePanel(page, outDir, result, timeoutMs) {
  const panel = {};
  result.panel = panel;
  await runCommand(page, 'FastWeights: Show Adaptation Gain');
  const frame = await panelFrame(page, 30000);
  panel.headline = await settledHeadline(frame, timeoutMs);
  // The repository row (issue 24): the figure with the state of the workspace's related files, named.
  panel.repository = await frame.evaluate(() => document.getElementById('whole-file').textContent);
  if (!/with the repository too \(.*\), its state from \d+ files?: .*retry\.ts/.test(panel.repository))
    throw new Error(`the gain panel shows no repository row naming src/retry.ts: ${panel.repository}`);
  panel.screenshots = [];
  for (const theme of THEMES) {
    await setTheme(page, theme.label);
    const file = path.join(outDir, `gain-panel-${theme.name}.png`);
    await screenshot(page, file);
    panel.screenshots.push(file);
    if (theme.name === 'dark') await readmeScreenshot(page, 'gain-panel', () => frameBox(frame));
  }
  await setTheme(page, THEMES[0].label);

  // A click on a block of the chart selects its lines in the editor.
  const hits = await frame.$$('#chart .hit');
  const target = hits[Math.floor(hits.length / 2)];
  const title = await target.$eval('title', (t) => t.textContent);
  const firstLine = Number(/Lines? (\d+)/.exec(title)[1]);
  const cursorAt = (line) =>
    page.waitForFunction(
      (l) => {
        const item = document.querySelector('.statusbar-item[id="status.editor.selection"]');
        return item && new RegExp(`Ln ${l}\\b`).test(item.textContent);
      },
      line,
      { timeout: 15000 },
    );
  await target.click();
  // On a loaded machine the first click can land while the theme picker is still closing: click once more.
  await cursorAt(firstLine).catch(async () => {
    await target.click();
    await cursorAt(firstLine);
  });
  panel.revealed = { block: title, cursorLine: await cursorLine(page) };

  // "Reset this file": the state empties and the adapted figure returns to the static one, at once.
  await frame.click('#reset-file');
  await frame.waitForFunction(
    () =>
      document.getElementById('state-tokens').textContent === '0' &&
      document.getElementById('adapted').textContent === document.getElementById('static').textContent,
    undefined,
    { timeout: 20000 },
  );
  panel.afterReset = await settledHeadline(frame, 20000);
  const file = path.join(outDir, 'gain-panel-after-reset.png');
  await screenshot(page, file);
  panel.screenshots.push(file);
}

module.exports = { exercisePanel };
