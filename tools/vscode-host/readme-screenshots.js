'use strict';
// The two pictures the README shows (ghost text in the editor, the gain panel), taken by the browser test
// at the moments it reaches those states. Written to media/screenshot-*.png only when
// FASTWEIGHTS_SCREENSHOTS=1, so that CI and ordinary runs leave the tree clean.
const path = require('path');

const MEDIA = path.resolve(__dirname, '..', '..', 'media');
const ENABLED = process.env.FASTWEIGHTS_SCREENSHOTS === '1';

/** The editor around its cursor: `above` / `below` pixels of lines, `width` pixels from the editor's left. */
async function editorAroundCursor(page, { above = 300, below = 140, width = 900 } = {}) {
  const editor = await page.locator('.monaco-editor.focused').first().boundingBox();
  const cursor = await page.locator('.monaco-editor.focused .cursor').first().boundingBox();
  if (!editor || !cursor) return undefined;
  const top = Math.max(editor.y, cursor.y - above);
  const bottom = Math.min(editor.y + editor.height, cursor.y + below);
  return { x: editor.x, y: top, width: Math.min(width, editor.width), height: bottom - top };
}

/** The box of a webview's page in the workbench: the outermost iframe that holds `frame`. */
async function frameBox(frame) {
  let outer = frame;
  while (outer.parentFrame() && outer.parentFrame().parentFrame()) outer = outer.parentFrame();
  const element = await outer.frameElement();
  return (await element.boundingBox()) ?? undefined;
}

/**
 * Saves media/screenshot-<name>.png, clipped to the box `clip` returns, when FASTWEIGHTS_SCREENSHOTS=1.
 * Never fails the test: a picture that could not be taken is reported and skipped.
 */
async function readmeScreenshot(page, name, clip) {
  if (!ENABLED) return undefined;
  try {
    const box = await clip();
    if (!box || box.width < 1 || box.height < 1) throw new Error('nothing to clip to');
    const file = path.join(MEDIA, `screenshot-${name}.png`);
    const rounded = {
      x: Math.round(box.x),
      y: Math.round(box.y),
      width: Math.round(box.width),
      height: Math.round(box.height),
    };
    await page.screenshot({ path: file, clip: rounded });
    console.log(`[browser-test] README screenshot: ${path.relative(process.cwd(), file)}`);
    return file;
  } catch (e) {
    console.error(`[browser-test] README screenshot ${name} not taken: ${e.message || e}`);
    return undefined;
  }
}

module.exports = { readmeScreenshot, editorAroundCursor, frameBox };
