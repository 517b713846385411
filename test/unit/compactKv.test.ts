import * as assert from 'node:assert/strict';
import {
  compactKv,
  compactKvBytes,
  expandKv,
  extendCompactKv,
  isPreciseKv,
  preciseKv,
  repackKv,
} from '../../src/runtime/compactKv';
import type { KvCache } from '../../src/runtime/runtime';
import { seededRandom } from './helpers';

const HEADS = 3;
const DH = 16;

/** A cache of `length` positions, [HEADS, length, DH], values distinct per position. */
function randomKv(length: number, random: () => number): KvCache {
  const n = HEADS * length * DH;
  return {
    keys: Float32Array.from({ length: n }, () => random() * 4 - 2),
    values: Float32Array.from({ length: n }, () => random() * 0.2 - 0.1),
    length,
  };
}

/** Positions [from, to) of a cache. */
function slice(kv: KvCache, from: number, to: number): KvCache {
  const len = to - from;
  const keys = new Float32Array(HEADS * len * DH);
  const values = new Float32Array(HEADS * len * DH);
  for (let r = 0; r < HEADS; r++) {
    const src = (r * kv.length + from) * DH;
    keys.set(kv.keys.subarray(src, src + len * DH), r * len * DH);
    values.set(kv.values.subarray(src, src + len * DH), r * len * DH);
  }
  return { keys, values, length: len };
}

describe('int8 key/value snapshots that share rows', () => {
  it('a snapshot extended from the one before equals a snapshot of its own, row for row', () => {
    const random = seededRandom(25);
    // One body pass: the keys and values of 600 positions; snapshots of the last 255 at several chunk starts.
    const pass = randomKv(600, random);
    const window = 255;
    let shared = compactKv(slice(pass, 0, 100), DH); // (shorter than the window: the document's start)
    let end = 100;
    const kept = [shared];
    for (const next of [215, 330, 331, 470, 600]) {
      const start = Math.max(0, next - window);
      const prevStart = end - shared.length;
      shared = extendCompactKv(shared, start - prevStart, slice(pass, end, next), DH);
      end = next;
      kept.push(shared);
      const own = compactKv(slice(pass, start, next), DH);
      assert.equal(shared.length, next - start);
      const a = expandKv(shared);
      const b = expandKv(own);
      assert.deepEqual(a.keys, b.keys, `keys at ${next}`);
      assert.deepEqual(a.values, b.values, `values at ${next}`);
    }
    // Six snapshots of up to 255 positions hold the 600 positions' rows once.
    const once = compactKvBytes(compactKv(pass, DH));
    assert.equal(compactKvBytes(...kept), once);
    const separate = kept.reduce((n, kv) => n + compactKvBytes(compactKv(expandKv(kv), DH)), 0);
    assert.ok(separate > 2 * once, `${separate} against ${once}`);
  });

  it('repacked, the snapshots still kept hold only the rows they use, the same rows', () => {
    const random = seededRandom(11);
    const pass = randomKv(500, random);
    const first = compactKv(slice(pass, 0, 255), DH);
    const second = extendCompactKv(first, 200, slice(pass, 255, 300), DH); // positions 200..300
    const third = extendCompactKv(second, 90, slice(pass, 300, 480), DH); // positions 290..480
    // The first two freed: the third alone held all of the second's block (45 positions) for 10 of them.
    const [repacked] = repackKv([third]);
    assert.deepEqual(expandKv(repacked!), expandKv(third));
    const row = compactKvBytes(compactKv(slice(pass, 0, 1), DH));
    assert.equal(compactKvBytes(third), 225 * row);
    assert.equal(compactKvBytes(repacked!), 190 * row);
    // Blocks every kept snapshot uses in full stay as they are (shared, not copied).
    const again = repackKv([second, third]);
    assert.equal(again[1]!.pieces[1]!.block, third.pieces[1]!.block);
    assert.deepEqual(expandKv(again[0]!), expandKv(second));
    assert.deepEqual(expandKv(again[1]!), expandKv(third));
  });

  it('a precise snapshot is within 1/64,000 of each row’s largest value, in about half the bytes of fp32', () => {
    const random = seededRandom(3);
    const kv = randomKv(255, random);
    const precise = preciseKv(kv, DH);
    assert.ok(isPreciseKv(precise) && !isPreciseKv(compactKv(kv, DH)));
    const back = expandKv(precise);
    const int8 = expandKv(compactKv(kv, DH));
    const worst = (a: Float32Array, b: Float32Array): number => {
      let w = 0;
      for (let r = 0; r < a.length / DH; r++) {
        let max = 0;
        let err = 0;
        for (let i = r * DH; i < (r + 1) * DH; i++) {
          max = Math.max(max, Math.abs(b[i]!));
          err = Math.max(err, Math.abs(a[i]! - b[i]!));
        }
        w = Math.max(w, err / max);
      }
      return w;
    };
    const errors = { precise: worst(back.keys, kv.keys), int8: worst(int8.keys, kv.keys) };
    assert.ok(errors.precise < 1 / 64000, JSON.stringify(errors));
    assert.ok(errors.int8 > 1 / 1000, JSON.stringify(errors)); // (the single rounding, for scale)
    assert.ok(worst(back.values, kv.values) < 1 / 64000);
    const fp32 = kv.keys.byteLength + kv.values.byteLength;
    // Two int8 values and two scales per row of DH: 0.625 of fp32 here, 0.53 with the model's 64 per row.
    assert.equal(compactKvBytes(precise), 0.625 * fp32);
  });

  it('dropping all the rows before keeps none of their blocks', () => {
    const random = seededRandom(7);
    const a = compactKv(randomKv(50, random), DH);
    const b = extendCompactKv(a, 50, randomKv(20, random), DH);
    assert.equal(b.pieces.length, 1);
    assert.equal(b.length, 20);
    assert.ok(compactKvBytes(b) < compactKvBytes(a));
  });
});
