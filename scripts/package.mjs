// Builds the platform-specific VSIX: fastweights-linux-x64-<version>.vsix (vsce package --target linux-x64).
// Usage: node scripts/package.mjs [--target linux-x64]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const targetArg = process.argv.indexOf('--target');
const target = targetArg > 0 ? process.argv[targetArg + 1] : 'linux-x64';
if (target !== 'linux-x64') {
  console.error(
    `only linux-x64 is packaged (.vscodeignore keeps only its onnxruntime binaries); got ${target}`,
  );
  process.exit(2);
}
const models = join(root, 'models');
const hasModel =
  existsSync(models) &&
  readdirSync(models).some(
    (n) => statSync(join(models, n)).isDirectory() && existsSync(join(models, n, 'config.json')),
  );
if (!hasModel) {
  console.error(
    'no model folder under models/ (models/<name>/config.json): export one first (training/README.md)',
  );
  process.exit(1);
}
const binding = join(
  root,
  'node_modules',
  'onnxruntime-node',
  'bin',
  'napi-v6',
  'linux',
  'x64',
  'onnxruntime_binding.node',
);
if (!existsSync(binding)) {
  console.error(`missing ${binding}: run npm ci first`);
  process.exit(1);
}
const out = `${pkg.name}-${target}-${pkg.version}.vsix`;
const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(
  process.execPath,
  [
    vsce,
    'package',
    '--target',
    target,
    '--out',
    out,
    '--allow-missing-repository',
    '--skip-license',
    '--no-rewrite-relative-links',
  ],
  { cwd: root, stdio: 'inherit' },
);
const size = statSync(join(root, out)).size;
console.log(`${out}: ${(size / 1048576).toFixed(1)} MiB`);
