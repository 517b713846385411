import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listFiles, pickRegion, seededRandom, shuffled } from '../../src/replay/regions';
import type { SuggestionOrigin } from '../../src/completion/generate';
import { acceptanceByLength, acceptanceByOrigin, emptyTally } from '../../src/replay/session';
import { autoIndentAt, autoIndentTotal, decide, nextWordLength } from '../../src/replay/user';

describe('replay: the simulated user', () => {
  it('accepts a suggestion whole only when the text that comes next starts with all of it', () => {
    assert.deepEqual(decide('foo(bar);', 'foo(bar);\nnext'), { kind: 'accept', chars: 9 });
    assert.deepEqual(decide('foo(baz);', 'foo(bar);'), { kind: 'accept-word', chars: 3 });
    assert.deepEqual(decide('x(bar);', 'x(bar)'), { kind: 'type' }, 'a one-character word is typed');
    assert.deepEqual(decide('other', 'foo'), { kind: 'type' });
  });

  it('steps by words like acceptNextWord', () => {
    assert.equal(nextWordLength('  items.push(x)'), 7);
    assert.equal(nextWordLength('.push(x)'), 1);
    assert.equal(nextWordLength('=> x'), 2);
  });

  it('leaves indentation after Enter to the editor', () => {
    assert.equal(autoIndentAt('    return x;', true), 4);
    assert.equal(autoIndentAt('    return x;', false), 0);
    assert.equal(autoIndentTotal('a {\n  b;\n\tc;\n}'), 3);
  });
});

describe('replay: regions', () => {
  it('picks a region of whole lines, the same one for the same seed', () => {
    const text = Array.from({ length: 60 }, (_, i) => `const value${i} = compute(${i});`).join('\n');
    const a = pickRegion('x.ts', text, 120, seededRandom(3))!;
    const b = pickRegion('x.ts', text, 120, seededRandom(3))!;
    assert.deepEqual(a, b);
    assert.ok(a.text.length <= 120 && a.text.length > 0);
    assert.equal(a.before + a.text + '\n' + a.after, text, 'before + region + after is the file');
    assert.ok(a.before.endsWith('\n'));
    assert.equal(pickRegion('x.md', text, 120, seededRandom(3)), undefined, 'not a source file');
    assert.deepEqual(shuffled([1, 2, 3, 4], seededRandom(1)).sort(), [1, 2, 3, 4]);
  });

  it('types the trained languages by default and others only when named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-replay-'));
    for (const name of ['a.ts', 'b.go', 'c.h', 'd.py', 'e.md']) fs.writeFileSync(path.join(dir, name), 'x\n');
    const names = (languages?: string[]): string[] =>
      listFiles([dir], languages).map((f) => path.basename(f));
    assert.deepEqual(names(), ['a.ts', 'd.py']);
    assert.deepEqual(names(['go', 'markdown']), ['b.go', 'e.md']);
    assert.deepEqual(names(['cpp']), ['c.h'], 'a header counts for C++ when C++ is named');
    assert.throws(() => names(['cobol']), /does not know language "cobol"/);
    const text = Array.from({ length: 60 }, (_, i) => `\tv${i} := compute(${i})`).join('\n');
    assert.equal(pickRegion('x.go', text, 120, seededRandom(3)), undefined, 'Go is not typed by default');
    assert.equal(pickRegion('x.go', text, 120, seededRandom(3), ['go'])?.languageId, 'go');
    assert.equal(pickRegion('x.h', text, 120, seededRandom(3), ['c', 'cpp'])?.languageId, 'c');
    fs.rmSync(dir, { recursive: true });
  });
});

describe('replay: report', () => {
  it('counts shown and accepted suggestions by their first length', () => {
    const t = emptyTally();
    const shown: [number, number, boolean][] = [
      [1, 2, true],
      [2, 4, false],
      [3, 5, true],
      [4, 41, true],
      [5, 12, false],
    ];
    for (const [id, len, ok] of shown) {
      t.shown.add(id);
      t.lengths.set(id, len);
      if (ok) t.accepted.add(id);
    }
    const by = Object.fromEntries(acceptanceByLength(t).map((b) => [b.chars, [b.shown, b.accepted]]));
    assert.deepEqual(by, {
      '1-2': [1, 1],
      '3-5': [2, 1],
      '6-10': [0, 0],
      '11-20': [1, 0],
      '21-40': [0, 0],
      '41+': [1, 1],
    });
  });

  it('counts shown and accepted suggestions by whose text they are', () => {
    const t = emptyTally();
    const shown: [number, SuggestionOrigin, boolean][] = [
      [1, 'model', true],
      [2, 'copied', false],
      [3, 'copied', true],
      [4, 'partly-copied', false],
      [5, 'model', false],
    ];
    for (const [id, origin, ok] of shown) {
      t.shown.add(id);
      t.origins.set(id, origin);
      if (ok) t.accepted.add(id);
    }
    assert.deepEqual(acceptanceByOrigin(t), {
      model: { shown: 2, accepted: 1 },
      copied: { shown: 2, accepted: 1 },
      'partly-copied': { shown: 1, accepted: 0 },
    });
  });
});
