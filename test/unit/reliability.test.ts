/**
 * Bad inputs: the guards' policy (what is left alone, how much of a large file adapts), and the worker's
 * answers for texts that pass the guards but are odd (empty, decoded from invalid UTF-8, very long lines,
 * a language the model was not trained on).
 */
import * as assert from 'node:assert/strict';
import { ModelClient } from '../../src/host/client';
import { adaptationText, DEFAULT_INPUT_LIMITS, longestLine, skipReason } from '../../src/inputGuards';
import { workerClient } from './helpers';

const LINE = 'export const value = compute(alpha, beta) + offset; // a typical line\n';

describe('reliability: input guards', () => {
  it('leaves ordinary, empty and 100,000-line files on', () => {
    assert.equal(skipReason(''), undefined);
    assert.equal(skipReason(LINE.repeat(10)), undefined);
    assert.equal(skipReason(LINE.repeat(100_000)), undefined);
  });

  it('turns off binary content (a NUL character)', () => {
    assert.equal(skipReason(`${LINE}\0\u0001\u0002${LINE}`), 'binary content');
  });

  it('turns off a minified file (one line of 1 MB) but not a file with long lines', () => {
    const minified = 'var a=1,b=function(c){return c+1};'.repeat(31_000);
    assert.match(skipReason(minified) ?? '', /^minified or generated \(a line of 1\.0 M characters/);
    const longLines = `${'x'.repeat(DEFAULT_INPUT_LIMITS.maxLineChars)}\r\n`.repeat(50);
    assert.equal(skipReason(longLines), undefined);
  });

  it('turns off a file over the size limit, without scanning it for long lines', () => {
    const limits = { ...DEFAULT_INPUT_LIMITS, maxChars: 1000 };
    assert.match(skipReason(LINE.repeat(100), limits) ?? '', /^file too large/);
  });

  it('adapts to the first part of a large file only', () => {
    const big = LINE.repeat(100_000);
    assert.equal(adaptationText(big).length, DEFAULT_INPUT_LIMITS.maxAdaptChars);
    assert.ok(big.startsWith(adaptationText(big)));
    assert.equal(adaptationText(LINE), LINE);
  });

  it('measures the longest line with \\n and \\r\\n ends', () => {
    assert.equal(longestLine(''), 0);
    assert.equal(longestLine('ab\r\nabcd\nabc'), 4);
    assert.equal(longestLine('abc\r\n'), 3);
  });
});

describe('reliability: odd texts through the worker', () => {
  let client: ModelClient;

  before(async () => {
    client = workerClient({ editDebounceMs: 0 });
    await client.ready;
  });

  after(async () => {
    await client.dispose();
  });

  const texts: { what: string; text: string }[] = [
    { what: 'an empty file', text: '' },
    // What VS Code shows for Latin-1 bytes read as UTF-8: replacement characters.
    { what: 'text decoded from invalid UTF-8', text: 'const caf\uFFFD = "\uFFFD\uFFFD";\nconst x = caf' },
    { what: 'very long lines', text: `const s = "${'ab '.repeat(1000)}";\n`.repeat(3) + 'const t = ' },
    {
      what: 'a language the model was not trained on',
      text: 'fn main() {\n    let v: Vec<u8> = Vec::new();\n    v.',
    },
    { what: 'control characters and emoji', text: 'const e = "\u0007\u001b[31m\u{1F600}";\nconst f = ' },
  ];
  for (const { what, text } of texts) {
    it(`adapts to and completes ${what}`, async () => {
      const uri = `file:///tmp/odd-${what.replace(/\W+/g, '-')}.ts`;
      client.documentChanged(uri, 1, () => text, 0);
      await client.whenIdle(uri);
      const info = client.documentState(uri);
      assert.equal(info?.builtVersion, 1, 'the state build finished');
      const c = await client.complete(uri, text, 8);
      assert.equal(typeof c.text, 'string');
      assert.ok(!c.text.includes('\0'), 'no NUL in a suggestion');
      client.documentClosed(uri);
    });
  }
});
