import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createSessions,
  loadModelFolder,
  ModelFolderError,
  SUPPORTED_FORMAT_VERSION,
} from '../../src/runtime';
import { modelDir, tempDir } from './helpers';

/** A copy of the model folder whose config.json (or files) a test can spoil. */
function copyModel(): string {
  const src = modelDir();
  const dst = tempDir('model');
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    if (fs.statSync(p).isFile()) fs.symlinkSync(p, path.join(dst, f));
  }
  return dst;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const p = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
  fs.unlinkSync(p);
  edit(c);
  fs.writeFileSync(p, JSON.stringify(c));
}

function throwsModelError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelFolderError, `expected ModelFolderError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

describe('model folder', () => {
  it('loads and validates the shipped model', () => {
    const m = loadModelFolder(modelDir());
    assert.equal(m.config.format_version, SUPPORTED_FORMAT_VERSION);
    assert.deepEqual(m.config.state_tensors.state_w1, [m.config.d_model, m.config.fwl_hidden]);
    assert.ok(m.config.fwl.decay > 0 && m.config.fwl.decay <= 1);
  });

  it('names a missing folder', () => {
    throwsModelError(() => loadModelFolder('/nonexistent/fastweights-model'), /does not exist/);
  });

  it('names a missing config.json', () => {
    const dir = tempDir('empty');
    throwsModelError(() => loadModelFolder(dir), /config\.json is missing/);
  });

  it('names a corrupt config.json', () => {
    const dir = copyModel();
    fs.unlinkSync(path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'config.json'), '{"format_version": 1,');
    throwsModelError(() => loadModelFolder(dir), /not valid JSON/);
  });

  it('refuses an unknown format_version', () => {
    const dir = copyModel();
    editConfig(dir, (c) => (c['format_version'] = 99));
    throwsModelError(
      () => loadModelFolder(dir),
      /format_version 99 is not supported.*reads format_version 1/,
    );
  });

  it('refuses state tensor shapes that do not fit d_model', () => {
    const dir = copyModel();
    editConfig(dir, (c) => ((c['state_tensors'] as Record<string, number[]>)['state_w1'] = [3, 4]));
    throwsModelError(() => loadModelFolder(dir), /state_tensors\.state_w1/);
  });

  it('reads the repository state settings a model folder may set, and refuses bad ones', () => {
    const dir = copyModel();
    editConfig(dir, (c) => (c['repository'] = { weight: 0.75, max_tokens: 8192 }));
    assert.deepEqual(loadModelFolder(dir).config.repository, { weight: 0.75, max_tokens: 8192 });
    editConfig(dir, (c) => (c['repository'] = { weight: -1, max_tokens: 8192 }));
    throwsModelError(() => loadModelFolder(dir), /repository must hold a weight/);
  });

  it('names a missing graph', () => {
    const dir = copyModel();
    fs.unlinkSync(path.join(dir, 'head.onnx'));
    throwsModelError(() => loadModelFolder(dir), /graph "head\.onnx" is missing/);
  });

  it('names a Git LFS pointer instead of a graph', () => {
    const dir = copyModel();
    fs.unlinkSync(path.join(dir, 'body.onnx'));
    fs.writeFileSync(
      path.join(dir, 'body.onnx'),
      'version https://git-lfs.github.com/spec/v1\noid sha256:0000000000000000000000000000000000000000000000000000000000000000\nsize 123\n',
    );
    throwsModelError(() => loadModelFolder(dir), /Git LFS pointer/);
  });

  it('reports a corrupt graph when creating sessions', async () => {
    const dir = copyModel();
    fs.unlinkSync(path.join(dir, 'head.onnx'));
    fs.writeFileSync(path.join(dir, 'head.onnx'), Buffer.alloc(4096, 7));
    const m = loadModelFolder(dir);
    await assert.rejects(createSessions(m, { provider: 'cpu' }), (e: unknown) => {
      assert.ok(e instanceof ModelFolderError);
      assert.match((e as Error).message, /could not load the graphs/);
      return true;
    });
  });
});
