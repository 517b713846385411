import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateText } from '../../src/runtime';
import { modelDir, noteSpread, runtime } from './helpers';

interface ParityFixture {
  file: string;
  static_bits_per_byte: number;
  adapted_bits_per_byte: number;
  adapted_whole_file_bits_per_byte?: number;
  tokens: number;
  bytes: number;
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

describe('parity with the Python model', () => {
  const dir = modelDir();
  const fixturePath = path.join(dir, 'parity_fixture.json');

  it('reproduces the Python bits per byte on the parity fixture (1e-3 relative)', async function () {
    assert.ok(fs.existsSync(fixturePath), `${fixturePath} is missing (the model export writes it)`);
    const fx = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as ParityFixture;
    const text = fs.readFileSync(path.join(dir, fx.file), 'utf8');
    const rt = await runtime();
    const s = await evaluateText(rt, text);
    assert.equal(s.tokens, fx.tokens, 'token count');
    assert.equal(s.bytes, fx.bytes, 'byte count');
    const st = s.staticBits / s.bytes;
    const ad = (s.adaptedBits ?? NaN) / s.bytes;
    const wf = (s.wholeFileBits ?? NaN) / s.bytes;
    console.log(
      `      TS: static ${st.toFixed(5)} adapted ${ad.toFixed(5)} whole-file ${wf.toFixed(5)} ` +
        `(${s.tokens} tokens, ${(s.ms / 1000).toFixed(1)} s); Python: ${fx.static_bits_per_byte.toFixed(5)} ` +
        `${fx.adapted_bits_per_byte.toFixed(5)} ${fx.adapted_whole_file_bits_per_byte?.toFixed(5) ?? '-'}`,
    );
    noteSpread('parity.static_vs_python', relErr(st, fx.static_bits_per_byte));
    noteSpread('parity.adapted_vs_python', relErr(ad, fx.adapted_bits_per_byte));
    if (fx.adapted_whole_file_bits_per_byte !== undefined)
      noteSpread('parity.whole_file_vs_python', relErr(wf, fx.adapted_whole_file_bits_per_byte));
    assert.ok(relErr(st, fx.static_bits_per_byte) < 1e-3, `static ${st} vs ${fx.static_bits_per_byte}`);
    assert.ok(relErr(ad, fx.adapted_bits_per_byte) < 1e-3, `adapted ${ad} vs ${fx.adapted_bits_per_byte}`);
    if (fx.adapted_whole_file_bits_per_byte !== undefined) {
      assert.ok(
        relErr(wf, fx.adapted_whole_file_bits_per_byte) < 1e-3,
        `whole file ${wf} vs ${fx.adapted_whole_file_bits_per_byte}`,
      );
    }
  });

  it('scores the same with fast_chunk.onnx and position by position with head.onnx', async function () {
    const rt = await runtime();
    if (!rt.hasFastChunk) this.skip();
    const fx = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as ParityFixture;
    const text = fs.readFileSync(path.join(dir, fx.file), 'utf8');
    // Enough tokens for a whole-file future term (more than two chunks).
    const maxTokens = Math.min(3 * rt.config.eval_chunk_tokens + 17, 1200);
    const a = await evaluateText(rt, text, { maxTokens, method: 'fast_chunk' });
    const b = await evaluateText(rt, text, { maxTokens, method: 'per_token' });
    noteSpread('parity.fast_chunk_static', relErr(a.staticBits, b.staticBits));
    noteSpread('parity.fast_chunk_adapted', relErr(a.adaptedBits!, b.adaptedBits!));
    noteSpread('parity.fast_chunk_whole_file', relErr(a.wholeFileBits!, b.wholeFileBits!));
    assert.ok(relErr(a.staticBits, b.staticBits) < 1e-6);
    assert.ok(relErr(a.adaptedBits!, b.adaptedBits!) < 1e-4, `${a.adaptedBits} vs ${b.adaptedBits}`);
    assert.ok(relErr(a.wholeFileBits!, b.wholeFileBits!) < 1e-4, `${a.wholeFileBits} vs ${b.wholeFileBits}`);
  });
});
