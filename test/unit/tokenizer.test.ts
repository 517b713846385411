import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CodeTokenizer, incompleteUtf8Tail, loadModelFolder } from '../../src/runtime';
import { modelDir } from './helpers';

describe('tokenizer', () => {
  const folder = loadModelFolder(modelDir());
  const tok = CodeTokenizer.fromFile(folder.files.tokenizer);
  const vectorsFile = path.join(folder.dir, 'tokenizer_test_vectors.json');
  const vectors = JSON.parse(fs.readFileSync(vectorsFile, 'utf8')) as { text: string; ids: number[] }[];

  it('has test vectors to check against', () => {
    assert.ok(vectors.length > 0, `${vectorsFile} is empty`);
  });

  it('reproduces every committed test vector exactly', () => {
    for (const v of vectors) {
      assert.deepEqual(tok.encode(v.text), v.ids, `ids differ for ${JSON.stringify(v.text.slice(0, 60))}`);
    }
  });

  it('decodes the vectors back to their text, also byte by byte', () => {
    // Special tokens (e.g. a literal <|endoftext|> in the text) are dropped when decoding: skip those vectors.
    for (const v of vectors.filter((x) => !x.ids.some((id) => tok.specialIds.has(id)))) {
      assert.equal(tok.decode(v.ids), v.text);
      const { text, pendingBytes } = tok.decodeBytes(v.ids);
      assert.equal(pendingBytes, 0);
      assert.equal(text, v.text);
      const bytes = v.ids.reduce((n, id) => n + tok.tokenBytes(id).length, 0);
      assert.equal(bytes, Buffer.byteLength(v.text, 'utf8'));
    }
  });

  it('knows the bos token as special', () => {
    assert.ok(tok.specialIds.has(folder.config.bos_token_id));
    assert.equal(tok.tokenBytes(folder.config.bos_token_id).length, 0);
  });

  it('finds incomplete UTF-8 at the end of a buffer', () => {
    const euro = Buffer.from('a€', 'utf8'); // 61 e2 82 ac
    assert.equal(incompleteUtf8Tail(euro), 0);
    assert.equal(incompleteUtf8Tail(euro.subarray(0, 3)), 2);
    assert.equal(incompleteUtf8Tail(euro.subarray(0, 2)), 1);
    assert.equal(incompleteUtf8Tail(Buffer.from('abc')), 0);
  });
});
