// Every platform VSIX (`npm run package -- --all-targets`) against the files vsce packs for it: `vsce ls`
// with the target's ignore file from scripts/vsixTargets.mjs, the same file scripts/package.mjs passes to
// `vsce package`. Each must hold its own onnxruntime-node binaries, no other platform's, and the model.
// Only linux-x64 is ever run here; listing instead of packing keeps this to one vsce walk per target.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_TARGET, TARGETS, binDir, listFiles, writeIgnoreFile } from '../../scripts/vsixTargets.mjs';

/** Repository root (tests run from out/test/unit/). */
const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The onnxruntime library each platform's binding loads (its import, read from the binary). */
const LIBRARY: Record<string, string> = {
  linux: 'libonnxruntime.so.1',
  darwin: 'libonnxruntime.1.dylib',
  win32: 'onnxruntime.dll',
};

/** Native code of any platform: bindings and shared libraries. */
const NATIVE = /\.(node|dll|dylib)$|\.so(\.\d+)*$/;

const ORT_BIN = 'node_modules/onnxruntime-node/bin/';

function filesIn(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir)).map((name) => `${dir}/${name}`);
}

/** Model folders: models/<name>/ with a config.json. */
function modelDirs(): string[] {
  return fs
    .readdirSync(path.join(ROOT, 'models'))
    .map((name) => `models/${name}`)
    .filter((dir) => fs.existsSync(path.join(ROOT, dir, 'config.json')));
}

describe('vsixTargets: each platform VSIX holds its own binaries only', function () {
  // vsce ls walks the whole checkout (about 20 s each on this project's 2-core machine).
  this.timeout(600_000);
  const listings = new Map<string, string[]>();
  let tmp = '';

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastweights-vsix-test-'));
    const lists = await Promise.all(TARGETS.map((t) => listFiles(ROOT, writeIgnoreFile(ROOT, t, tmp))));
    TARGETS.forEach((t, i) => listings.set(t, lists[i]!));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('builds the five targets onnxruntime-node ships binaries for', () => {
    assert.deepEqual([...TARGETS].sort(), [
      'darwin-arm64',
      'linux-arm64',
      'linux-x64',
      'win32-arm64',
      'win32-x64',
    ]);
  });

  for (const target of TARGETS) {
    it(`${target}: every file of its binary folder, its binding and library, no other native code`, () => {
      const files = listings.get(target)!;
      const own = filesIn(binDir(target)).sort();
      assert.deepEqual(files.filter((f) => f.startsWith(ORT_BIN)).sort(), own);
      assert.deepEqual(
        files.filter((f) => NATIVE.test(f)).sort(),
        own.filter((f) => NATIVE.test(f)),
      );
      const platform = target.split('-')[0]!;
      assert.ok(own.includes(`${binDir(target)}/onnxruntime_binding.node`), `${target}: no binding`);
      assert.ok(own.includes(`${binDir(target)}/${LIBRARY[platform]}`), `${target}: no ${LIBRARY[platform]}`);
    });

    it(`${target}: the model (config, tokenizer, every .onnx graph) and the rest as linux-x64`, () => {
      const files = new Set(listings.get(target));
      const models = modelDirs();
      assert.ok(models.length > 0, 'no models/<name>/config.json');
      for (const dir of models) {
        const graphs = filesIn(dir).filter((f) => f.endsWith('.onnx'));
        assert.ok(graphs.length > 0, `${dir}: no .onnx graphs`);
        for (const f of [`${dir}/config.json`, `${dir}/tokenizer.json`, ...graphs]) {
          assert.ok(files.has(f), `${target}: ${f} missing`);
        }
      }
      const shared = (t: string): string[] =>
        listings
          .get(t)!
          .filter((f) => !f.startsWith(ORT_BIN))
          .sort();
      assert.deepEqual(shared(target), shared(DEFAULT_TARGET));
    });
  }
});
