'use strict';
// Entry point that VS Code's extension host loads for --extensionTestsPath: the standard run() contract.
// Run it with tools/vscode-host/run-host-tests.js (a real code-server extension host, see that file).
const fs = require('fs');
const path = require('path');

function loadMocha() {
  try {
    return require('mocha'); // the repository's own devDependency
  } catch {
    // Run from a tree without the root node_modules: use the harness's copy, passed in by the runner.
    return require(process.env.FASTWEIGHTS_TEST_MOCHA);
  }
}

function run() {
  const Mocha = loadMocha();
  // Colours off: the output is forwarded line by line through the workbench log.
  const mocha = new Mocha({ ui: 'bdd', timeout: 180000, color: false, reporter: 'spec' });
  // Every *.test.js file here, in name order; FASTWEIGHTS_HOST_GREP narrows a run to matching test titles.
  for (const name of fs.readdirSync(__dirname).sort()) {
    if (name.endsWith('.test.js')) mocha.addFile(path.join(__dirname, name));
  }
  if (process.env.FASTWEIGHTS_HOST_GREP) mocha.grep(process.env.FASTWEIGHTS_HOST_GREP);
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} host test(s) failed`)) : resolve()));
  });
}

module.exports = { run };
