#!/usr/bin/env node
'use strict';
// Checks the harness itself, without the real extension: packs sample-ext/ (a fixed-suggestion stand-in
// for FastWeights) into a VSIX and runs the host suite and the browser test against it.
//   node tools/vscode-host/selftest.js
//   node tools/vscode-host/selftest.js --pack-only <dest.vsix>   (just the fixture VSIX, e.g. for start.js)
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { makeRunDir, HERE } = require('./server');

// A VSIX is a zip holding extension/ plus a manifest; python3's zipfile writes it (no vsce needed here).
function packSample(dest) {
  const src = path.join(HERE, 'sample-ext');
  const pkg = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8'));
  const manifest = `<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata>
    <Identity Language="en-US" Id="${pkg.name}" Version="${pkg.version}" Publisher="${pkg.publisher}"/>
    <DisplayName>${pkg.displayName}</DisplayName>
    <Description xml:space="preserve">${pkg.description}</Description>
    <Properties><Property Id="Microsoft.VisualStudio.Code.Engine" Value="${pkg.engines.vscode}"/></Properties>
  </Metadata>
  <Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/></Installation>
  <Dependencies/>
  <Assets><Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true"/></Assets>
</PackageManifest>
`;
  const types = `<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension=".json" ContentType="application/json"/><Default Extension=".js" ContentType="application/javascript"/><Default Extension=".vsixmanifest" ContentType="text/xml"/></Types>
`;
  const script = `
import sys, zipfile, pathlib
src, dest, manifest, types = sys.argv[1:5]
with zipfile.ZipFile(dest, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('extension.vsixmanifest', manifest)
    z.writestr('[Content_Types].xml', types)
    for f in sorted(pathlib.Path(src).iterdir()):
        z.write(f, 'extension/' + f.name)
`;
  execFileSync('python3', ['-c', script, src, dest, manifest, types]);
  return dest;
}

function run(label, args) {
  const started = Date.now();
  try {
    execFileSync(process.execPath, args, { stdio: 'inherit' });
    console.log(`[selftest] ${label}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch {
    console.log(`[selftest] ${label}: FAILED`);
    return false;
  }
}

if (process.argv[2] === '--pack-only') {
  console.log(packSample(path.resolve(process.argv[3] || 'fake-fastweights.vsix')));
  process.exit(0);
}

const dir = makeRunDir('selftest');
try {
  const vsix = packSample(path.join(dir, 'fake-fastweights.vsix'));
  const out = path.join(path.resolve(HERE, '..', '..'), 'test-artifacts', 'harness-selftest');
  const ok = [
    run('host tests (VSIX of the fixture)', [path.join(HERE, 'run-host-tests.js'), '--vsix', vsix]),
    run('browser test (VSIX of the fixture)', [
      path.join(HERE, 'browser-test.js'),
      '--vsix',
      vsix,
      '--out',
      out,
    ]),
  ].every(Boolean);
  process.exitCode = ok ? 0 : 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
