'use strict';
// Helpers shared by the host tests (not a test file: index.js loads *.test.js only).
const assert = require('assert');
const vscode = require('vscode');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function workspaceRoot() {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  assert.ok(folder, 'the test run opens a workspace folder');
  return folder.uri.fsPath;
}

/** Waits until `check()` returns a truthy value (or fails after `ms`, saying what it waited for). */
async function until(what, check, ms = 120000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Asks (Alt+\\) until the provider has answered the cursor of `editor` in its current version: the
 * suggestion, or (with `undefinedIfNone`) undefined when the pipeline had nothing to show there. Re-asking
 * cancels a generation in flight, so the wait between asks doubles (a loaded machine can be slow).
 */
async function suggestionAtCursor(api, editor, timeoutMs = 240000, undefinedIfNone = false) {
  const deadline = Date.now() + timeoutMs;
  const uri = editor.document.uri.toString();
  let interval = 20000;
  while (Date.now() < deadline) {
    const requests = api.completionPipeline.counters.requests;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    const stop = Math.min(Date.now() + interval, deadline);
    interval *= 2;
    while (Date.now() < stop) {
      const c = api.lastCompletion;
      const at = editor.selection.active;
      if (
        c &&
        c.uri === uri &&
        c.version === editor.document.version &&
        c.line === at.line &&
        c.character === at.character
      )
        return c;
      // The pipeline answered this document with nothing to show (not a cancelled request).
      const o = api.completionPipeline.lastOutcome;
      if (
        undefinedIfNone &&
        api.completionPipeline.counters.requests > requests &&
        o &&
        o.kind === 'none' &&
        o.reason !== 'cancelled'
      )
        return undefined;
      await sleep(100);
    }
  }
  throw new Error(
    `no suggestion at the cursor of ${uri} (completions so far: ${api.completionCount}; ` +
      `pipeline ${JSON.stringify(api.completionPipeline.counters)}, last outcome ` +
      `${JSON.stringify(api.completionPipeline.lastOutcome)})`,
  );
}

module.exports = { sleep, workspaceRoot, until, suggestionAtCursor };
