// Bundles the extension, the CLI and the unit tests with esbuild.
// Usage: node scripts/build.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { readdirSync, existsSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Modules that must be loaded at run time from node_modules (native addon) or from the host (vscode). */
const external = ['vscode', 'onnxruntime-node', 'mocha'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: false,
  external,
  logLevel: 'info',
  absWorkingDir: root,
};

const unitDir = join(root, 'test', 'unit');
const unitTests = existsSync(unitDir)
  ? readdirSync(unitDir)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join('test', 'unit', f))
  : [];

const builds = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'out/extension.js' },
  { ...common, entryPoints: ['src/host/worker.ts'], outfile: 'out/worker.js' },
  {
    ...common,
    entryPoints: ['src/cli.ts'],
    outfile: 'out/cli.js',
    banner: { js: '#!/usr/bin/env node' },
  },
];
if (unitTests.length > 0 && !production) {
  builds.push({ ...common, entryPoints: unitTests, outdir: 'out/test/unit', outbase: 'test/unit' });
}

if (watch) {
  for (const options of builds) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
  console.log('esbuild: watching for changes');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
  chmodSync(join(root, 'out', 'cli.js'), 0o755);
}
