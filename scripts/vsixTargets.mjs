// The platforms a VSIX is built for and the ignore file for each. .vscodeignore is an allowlist that keeps
// linux-x64's onnxruntime-node binaries; a target's variant keeps that target's instead, so every VSIX
// carries one platform's binaries (tens of MB each) and never the others'. vsce reads the variant
// through --ignoreFile. Shared by scripts/package.mjs and test/unit/vsixTargets.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** VS Code target names that onnxruntime-node ships binaries for. */
export const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

/** The target .vscodeignore itself is written for: the only one the tests run. */
export const DEFAULT_TARGET = 'linux-x64';

/** A target's onnxruntime-node binaries, relative to the repository root. */
export function binDir(target) {
  const [platform, arch] = target.split('-');
  return `node_modules/onnxruntime-node/bin/napi-v6/${platform}/${arch}`;
}

/** .vscodeignore with its one line that keeps the default target's binaries keeping target's instead. */
export function ignoreText(root, target) {
  const keep = (t) => `!${binDir(t)}/**`;
  const lines = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n');
  // Fail rather than pack the wrong binaries if that line was edited away or repeated.
  if (lines.filter((l) => l.trim() === keep(DEFAULT_TARGET)).length !== 1) {
    throw new Error(`.vscodeignore must contain the line ${keep(DEFAULT_TARGET)} exactly once`);
  }
  return lines.map((l) => (l.trim() === keep(DEFAULT_TARGET) ? keep(target) : l)).join('\n');
}

/** Writes target's ignore file into dir (a temporary folder, so the checkout is never changed). */
export function writeIgnoreFile(root, target, dir) {
  const file = join(dir, `${target}.vscodeignore`);
  writeFileSync(file, ignoreText(root, target));
  return file;
}

export function vscePath(root) {
  return join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
}

/** The files vsce packs with this ignore file (`vsce ls`), relative to root. */
export async function listFiles(root, ignoreFile) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [vscePath(root), 'ls', '--ignoreFile', ignoreFile],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout.split('\n').filter((line) => line !== '');
}
