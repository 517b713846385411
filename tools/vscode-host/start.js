#!/usr/bin/env node
'use strict';
// `npm start`: a local VS Code (code-server) with the given VSIX installed and a sample workspace open,
// for a person to try FastWeights in their browser. Builds nothing itself; the caller packages first.
//
//   node tools/vscode-host/start.js --vsix fastweights-linux-x64-0.1.0.vsix [--port 8080] [--workspace DIR]
//
// Each start is fresh (own profile, extensions and a copy of the workspace); Ctrl+C or SIGTERM stops the
// server and its extension host and removes that run's folder.
const fs = require('fs');
const path = require('path');
const util = require('util');
const { startServer, workbenchUrl, makeRunDir, HERE } = require('./server');

function parseArgs(argv) {
  const { values } = util.parseArgs({
    args: argv,
    options: { vsix: { type: 'string' }, port: { type: 'string' }, workspace: { type: 'string' } },
  });
  if (!values.vsix || !fs.existsSync(values.vsix))
    throw new Error('give --vsix <existing .vsix file> (npm run package builds it)');
  return {
    vsix: path.resolve(values.vsix),
    port: Number(values.port ?? process.env.PORT) || undefined,
    workspace: path.resolve(values.workspace ?? path.join(HERE, 'sample-workspace')),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const base = makeRunDir('start');
  const workspace = path.join(base, 'workspace');
  fs.cpSync(opts.workspace, workspace, { recursive: true });
  console.log(`[start] installing ${path.basename(opts.vsix)} into a fresh code-server ...`);
  let server;
  try {
    server = await startServer({ base, folder: workspace, vsix: opts.vsix, port: opts.port });
  } catch (e) {
    fs.rmSync(base, { recursive: true, force: true });
    throw e;
  }
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[start] ${signal}: stopping code-server ...`);
    await server.stop();
    fs.rmSync(base, { recursive: true, force: true });
    console.log('[start] stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  server.proc.on('exit', (code) => {
    if (stopping) return;
    console.error(`[start] code-server exited unexpectedly (${code})\n${server.output().slice(-3000)}`);
    fs.rmSync(base, { recursive: true, force: true });
    process.exit(1);
  });
  console.log(`[start] workspace: ${workspace} (a copy; edits stay in this run)`);
  console.log(`[start] open in a browser: ${workbenchUrl(server)}`);
  console.log('[start] press Ctrl+C to stop');
}

main().catch((e) => {
  console.error(`[start] ${e.message || e}`);
  process.exit(1);
});
