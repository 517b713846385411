#!/usr/bin/env node
'use strict';
// Runs the mocha suite in test/host/ inside a real VS Code extension host, through @vscode/test-electron's
// runTests() with code-standin.js as the VS Code executable (see that file for why).
//
//   node tools/vscode-host/run-host-tests.js --vsix fastweights-linux-x64-0.1.0.vsix   (the packaged extension)
//   node tools/vscode-host/run-host-tests.js --dev .                                    (an unpackaged folder)
// Options: --tests <index.js> (default test/host/index.js), --workspace <folder> (default sample-workspace/),
//          --extension-id <publisher.name> (default: read from the extension's package.json).
const fs = require('fs');
const path = require('path');
const util = require('util');
const { runTests } = require('@vscode/test-electron');
const { installVsix, makeRunDir, runDirs, HERE } = require('./server');

const REPO = path.resolve(HERE, '..', '..');

function parseArgs(argv) {
  const { values } = util.parseArgs({
    args: argv,
    options: {
      vsix: { type: 'string' },
      dev: { type: 'string' },
      tests: { type: 'string' },
      workspace: { type: 'string' },
      'extension-id': { type: 'string' },
    },
  });
  if (!values.vsix === !values.dev) throw new Error('give exactly one of --vsix <file> or --dev <folder>');
  const resolve = (p) => (p === undefined ? undefined : path.resolve(p));
  return {
    vsix: resolve(values.vsix),
    dev: resolve(values.dev),
    tests: path.resolve(values.tests ?? path.join(REPO, 'test', 'host', 'index.js')),
    workspace: path.resolve(values.workspace ?? path.join(HERE, 'sample-workspace')),
    extensionId: values['extension-id'],
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const base = makeRunDir('host-run');
  try {
    let extPath = opts.dev;
    if (opts.vsix) {
      // Install with code-server's own installer into a scratch folder, then develop from the installed
      // copy: the tests see exactly what the VSIX ships (bundle, node_modules, model files).
      const scratch = runDirs(path.join(base, 'vsix-install'));
      const installed = await installVsix(opts.vsix, scratch);
      if (installed.length !== 1)
        throw new Error(`expected one extension folder from ${opts.vsix}, got ${installed.length}`);
      extPath = installed[0];
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(extPath, 'package.json'), 'utf8'));
    const extensionId = opts.extensionId || `${pkg.publisher}.${pkg.name}`;

    // A copy of the workspace, so tests may edit and save files freely.
    const workspace = path.join(base, 'workspace');
    fs.cpSync(opts.workspace, workspace, { recursive: true });

    const standin = path.join(HERE, 'code-standin.js');
    fs.chmodSync(standin, 0o755); // runTests() spawns it directly (a fresh checkout may lose the mode)
    console.log(`[host-tests] ${extensionId} from ${extPath}`);
    await runTests({
      vscodeExecutablePath: standin,
      extensionDevelopmentPath: extPath,
      extensionTestsPath: opts.tests,
      launchArgs: [
        workspace,
        `--user-data-dir=${path.join(base, 'user-data')}`,
        `--extensions-dir=${path.join(base, 'extensions')}`,
      ],
      // Reaches the extension host: code-server passes its environment on.
      extensionTestsEnv: {
        FASTWEIGHTS_TEST_EXTENSION_ID: extensionId,
        FASTWEIGHTS_TEST_MOCHA: path.dirname(require.resolve('mocha/package.json')),
        FASTWEIGHTS_TEST_WORKSPACE: workspace,
        ...(process.env.FASTWEIGHTS_HOST_GREP
          ? { FASTWEIGHTS_HOST_GREP: process.env.FASTWEIGHTS_HOST_GREP }
          : {}),
      },
    });
    console.log(`[host-tests] passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[host-tests] ${e.message || e}`);
    process.exit(typeof e.code === 'number' && e.code > 0 ? e.code : 1);
  },
);
