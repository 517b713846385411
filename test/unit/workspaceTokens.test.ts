import * as assert from 'node:assert/strict';
import { SuffixIndex } from '../../src/runtime/suffixIndex';
import { WorkspaceTokens, type WorkspaceFile } from '../../src/runtime/workspaceTokens';
import { seededRandom } from './helpers';

const random = seededRandom;

/** A stand-in tokenizer: one id per word (hashed), so texts that differ give different ids. */
function encode(text: string): number[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => [...w].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 8000, 7));
}

const WORDS = ['const', 'a', '=', 'b', '(', ')', '{', '}', 'return', 'x', 'import', 'from', 'def', ':'];

function text(rnd: () => number): string {
  return Array.from(
    { length: 5 + Math.floor(rnd() * 40) },
    () => WORDS[Math.floor(rnd() * WORDS.length)],
  ).join(' ');
}

const now = (): Promise<void> => Promise.resolve();

describe('workspace tokens between index builds', () => {
  it('after random edits, creates, deletes and renames, the index equals one built from scratch', async () => {
    const rnd = random(24);
    const files: WorkspaceFile[] = Array.from({ length: 8 }, (_, k) => ({
      uri: `file:///w/f${k}.ts`,
      text: text(rnd),
    }));
    let calls = 0;
    const tokens = new WorkspaceTokens((t) => (calls++, encode(t)));
    await tokens.update(files, now, () => false);
    assert.equal(calls, 8, 'the first build tokenizes every file');
    let created = 8;
    for (let round = 0; round < 60; round++) {
      const before = new Set(files.map((f) => f.text));
      const op = Math.floor(rnd() * 4);
      const k = Math.floor(rnd() * files.length);
      if (op === 0 && files.length) {
        const f = files[k]!;
        const at = Math.floor(rnd() * f.text.length);
        files[k] = {
          uri: f.uri,
          text: f.text.slice(0, at) + ` ${WORDS[round % WORDS.length]} ` + f.text.slice(at),
        };
      } else if (op === 1) {
        files.splice(k, 0, { uri: `file:///w/n${created++}.ts`, text: text(rnd) });
      } else if (op === 2 && files.length > 1) {
        files.splice(k, 1);
      } else if (files.length) {
        files[k] = { uri: `file:///w/renamed${created++}.ts`, text: files[k]!.text };
      }
      calls = 0;
      const docs = await tokens.update(files, now, () => false);
      assert.ok(docs, 'not stopped');
      const fresh = SuffixIndex.build(files.map((f) => encode(f.text)));
      const got = SuffixIndex.build(docs);
      assert.deepEqual(got.tokens, fresh.tokens, `round ${round}: tokens`);
      assert.deepEqual(got.suffixes, fresh.suffixes, `round ${round}: suffix array`);
      const changed = new Set(files.map((f) => f.text).filter((t) => !before.has(t)));
      assert.equal(calls, changed.size, `round ${round}: only new text is tokenized`);
      assert.equal(tokens.tokenized, changed.size);
      assert.equal(tokens.size, files.length, 'files no longer listed are forgotten');
    }
  });

  it('an update overtaken by a newer list stops, and the next one still gets every file right', async () => {
    const files = Array.from({ length: 5 }, (_, k) => ({
      uri: `file:///w/${k}.py`,
      text: `def f${k} ( ) : return ${k}`,
    }));
    const tokens = new WorkspaceTokens(encode);
    let pauses = 0;
    const stopped = await tokens.update(files, now, () => ++pauses > 2);
    assert.equal(stopped, undefined);
    const docs = await tokens.update(files, now, () => false);
    assert.equal(tokens.tokenized, 3, 'the two files tokenized before the stop are kept');
    assert.deepEqual(
      docs!.map((d) => [...d]),
      files.map((f) => encode(f.text)),
    );
    assert.equal(tokens.byteLength, 2 * files.reduce((n, f) => n + encode(f.text).length, 0));
  });

  it('reports its progress file by file, unchanged files included', async () => {
    const rnd = random(5);
    const files: WorkspaceFile[] = Array.from({ length: 6 }, (_, k) => ({
      uri: `file:///p/${k}.ts`,
      text: text(rnd),
    }));
    const tokens = new WorkspaceTokens(encode);
    const seen: string[] = [];
    await tokens.update(
      files,
      now,
      () => false,
      (done, total) => seen.push(`${done}/${total}`),
    );
    assert.deepEqual(seen, ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    seen.length = 0;
    await tokens.update(
      files.slice(0, 3),
      now,
      () => false,
      (done, total) => seen.push(`${done}/${total}`),
    );
    assert.deepEqual(seen, ['1/3', '2/3', '3/3']);
  });

  it('refuses an id a Uint16 cannot hold instead of wrapping it', async () => {
    const tokens = new WorkspaceTokens(() => [70000]);
    await assert.rejects(
      tokens.update([{ uri: 'file:///a', text: 'x' }], now, () => false),
      /out of range/,
    );
  });
});
