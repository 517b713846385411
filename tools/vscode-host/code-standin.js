#!/usr/bin/env node
'use strict';
// Stand-in for the `code` executable that @vscode/test-electron's runTests() launches. Desktop VS Code
// cannot be downloaded here, so this takes the same arguments, starts code-server (whose extension host is a
// real Node process), and opens the workbench in headless Chromium with the extension-development payload
// that code-server accepts in its URL. The test run's log and exit code come back through the hooks the web
// workbench calls (codeAutomationLog / codeAutomationExit); this process exits with that code.
const path = require('path');
const util = require('util');
const { startServer, workbenchUrl, makeRunDir, HERE } = require('./server');
const { launchBrowser, screenshot } = require('./browser');

function parseArgs(argv) {
  const out = {
    devPaths: [],
    testsPath: undefined,
    userDataDir: undefined,
    extensionsDir: undefined,
    folder: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [key, inline] = a.startsWith('--')
      ? [a.split('=')[0], a.includes('=') ? a.slice(a.indexOf('=') + 1) : undefined]
      : [a];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (key === '--extensionDevelopmentPath') out.devPaths.push(path.resolve(value()));
    else if (key === '--extensionTestsPath') out.testsPath = path.resolve(value());
    else if (key === '--user-data-dir') out.userDataDir = path.resolve(value());
    else if (key === '--extensions-dir') out.extensionsDir = path.resolve(value());
    else if (!a.startsWith('-')) out.folder = path.resolve(a);
    // Every other flag (--no-sandbox, --disable-updates, ...) concerns desktop Electron: ignored.
  }
  if (!out.testsPath || !out.devPaths.length)
    throw new Error('expected --extensionTestsPath and --extensionDevelopmentPath');
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const timeoutMs = Number(process.env.FASTWEIGHTS_HOST_TEST_TIMEOUT_MS || 2400000);
  const base = makeRunDir('host-tests');
  let context;
  let server;
  // runTests() forwards Ctrl+C as SIGINT: close the browser and the server before leaving.
  const abort = async () => {
    if (context) await context.close().catch(() => {});
    if (server) await server.stop();
    require('fs').rmSync(base, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  server = await startServer({
    base,
    folder: args.folder,
    userDataDir: args.userDataDir,
    extensionsDir: args.extensionsDir,
    log: process.env.FASTWEIGHTS_HOST_SERVER_LOG ? process.stderr : null,
  });
  // Paths in the payload are URIs on the server's file system (vscode-remote://host:port/abs/path).
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = [
    ...args.devPaths.map((p) => ['extensionDevelopmentPath', remote(p)]),
    ['extensionTestsPath', remote(args.testsPath)],
  ];

  let code;
  // Mocha's summary line: an extension host that crashes mid-run still "exits" 0, without it.
  let summarySeen = false;
  try {
    context = await launchBrowser(path.join(base, 'chromium-profile'));
    const page = context.pages()[0] || (await context.newPage());
    const exit = new Promise((resolve) => {
      // The workbench sends console-style argument lists: ['%s passing', 4].
      page.exposeFunction('codeAutomationLog', (level, message) => {
        const line = Array.isArray(message) ? util.format(...message) : String(message);
        if (/^\s*\d+ passing\b/.test(line)) summarySeen = true;
        (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
      });
      page.exposeFunction('codeAutomationExit', (c) => resolve(Number(c)));
    });
    page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
    await page.goto(workbenchUrl(server, { payload }));
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([exit, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      const shot = await screenshot(
        page,
        path.join(HERE, '..', '..', 'test-artifacts', 'host-tests-timeout.png'),
      ).catch(() => null);
      process.stderr.write(
        `[code-standin] no result from the extension host after ${timeoutMs} ms${shot ? `; screenshot: ${shot}` : ''}\n`,
      );
      process.stderr.write(server.output().slice(-4000) + '\n');
      code = 124;
    } else if (result === 0 && !summarySeen) {
      process.stderr.write('[code-standin] the extension host ended before mocha reported: it crashed\n');
      code = 1;
    } else {
      code = result;
    }
  } finally {
    if (context) await context.close().catch(() => {});
    await server.stop();
    require('fs').rmSync(base, { recursive: true, force: true });
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`[code-standin] ${e.stack || e}\n`);
    process.exit(1);
  },
);
