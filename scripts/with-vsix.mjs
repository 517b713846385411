// Packages the VSIX (unless --no-package) and runs a harness script with `--vsix <that file>`, passing on
// further arguments and Ctrl+C. Used by `npm start`, `npm run test:host` and `npm run test:browser`.
//   node scripts/with-vsix.mjs [--no-package] tools/vscode-host/start.js [more args]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const noPackage = args[0] === '--no-package';
if (noPackage) args.shift();
const [script, ...rest] = args;
if (!script) {
  console.error('usage: node scripts/with-vsix.mjs [--no-package] SCRIPT [ARGS...]');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const vsix = join(root, `${pkg.name}-linux-x64-${pkg.version}.vsix`);
if (!noPackage || !existsSync(vsix)) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const child = spawn(process.execPath, [join(root, script), '--vsix', vsix, ...rest], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
