// Builds platform VSIXs, fastweights-<target>-<version>.vsix, each with the model and only its own
// platform's onnxruntime-node binaries (the per-target ignore file comes from scripts/vsixTargets.mjs).
// Usage: node scripts/package.mjs [--target linux-x64 | --all-targets]   (default: linux-x64 only)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TARGET, TARGETS, binDir, vscePath, writeIgnoreFile } from './vsixTargets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

function targetsFromArgs(args) {
  if (args.includes('--all-targets')) return TARGETS;
  const i = args.indexOf('--target');
  const target = i >= 0 ? args[i + 1] : DEFAULT_TARGET;
  if (!TARGETS.includes(target)) fail(`unknown target ${target}: one of ${TARGETS.join(', ')}`, 2);
  return [target];
}

function checkModel() {
  const models = join(root, 'models');
  const hasModel =
    existsSync(models) &&
    readdirSync(models).some(
      (n) => statSync(join(models, n)).isDirectory() && existsSync(join(models, n, 'config.json')),
    );
  if (!hasModel) {
    fail('no model folder under models/ (models/<name>/config.json): export one first (training/README.md)');
  }
}

function checkBinding(target) {
  const binding = join(root, binDir(target), 'onnxruntime_binding.node');
  if (!existsSync(binding)) fail(`missing ${binding}: run npm ci first`);
}

function packageTarget(target, ignoreFile) {
  const out = `${pkg.name}-${target}-${pkg.version}.vsix`;
  execFileSync(
    process.execPath,
    [
      vscePath(root),
      'package',
      '--target',
      target,
      '--ignoreFile',
      ignoreFile,
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
}

const targets = targetsFromArgs(process.argv.slice(2));
checkModel();
targets.forEach(checkBinding);
const dir = mkdtempSync(join(tmpdir(), 'fastweights-vsix-'));
try {
  for (const target of targets) packageTarget(target, writeIgnoreFile(root, target, dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
