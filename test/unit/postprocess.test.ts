import * as assert from 'node:assert/strict';
import { cleanText } from '../../src/completion/postprocess/clean';
import { matchIndentation } from '../../src/completion/postprocess/indentation';
import {
  cutRepeatOfFollowing,
  cutInlineLoop,
  cutSelfRepetition,
  isRepetition,
} from '../../src/completion/postprocess/repetition';
import { cutAtScopeEnd } from '../../src/completion/postprocess/scope';
import { fitToSuffix } from '../../src/completion/postprocess/suffix';
import { postprocess } from '../../src/completion/postprocess';
import { contextAt } from './completionContext';

describe('post-processing', () => {
  it('cleans line ends, trailing spaces and blank tails; whitespace only becomes empty', () => {
    assert.equal(cleanText('return x;  '), 'return x;');
    assert.equal(cleanText('a\r\n  b  \n\n  '), 'a\n  b');
    assert.equal(cleanText(' \n\t'), '');
  });

  it('replaces the closers after the cursor instead of doubling them', () => {
    assert.deepEqual(fitToSuffix('a, b);', ');'), { text: 'a, b);', replaceSuffix: 2 });
    assert.deepEqual(fitToSuffix('a, b)', ');'), { text: 'a, b)', replaceSuffix: 1 }, 'first closers only');
    assert.deepEqual(fitToSuffix('a, b', ')'), { text: 'a, b', replaceSuffix: 0 });
    assert.deepEqual(
      fitToSuffix('x]', ' ]'),
      { text: 'x]', replaceSuffix: 2 },
      'spaces before the closer too',
    );
    assert.equal(fitToSuffix(')', ')'), undefined, 'only the text already there');
  });

  it('replaces the closers a suggestion closes earlier and goes on after, keeping the line balanced', () => {
    const map = 'const cubes = primes.map(';
    // [line before the cursor, suggestion, rest of the line, closers replaced, why]
    const cases: [string, string, string, number, string][] = [
      [map, '(p) => p * p);', ')', 1, 'the suggestion closes the bracket itself'],
      [map, '(p) => p).length', ');', 1, 'the ";" after the bracket stays'],
      [map, '(p) => p', ')', 0, 'still open'],
      ['f(', 'a, ")", b', ')', 0, 'a bracket inside a string closes nothing'],
      ['import { x } from "', './util";', '"', 1, 'the string the prefix opened'],
      ['const s = "', 'a" + "b', '"', 0, 'the suggestion leaves a string open for the old quote to close'],
      [
        'if (',
        'x) {\n  // (see below\n  go();\n}',
        ')',
        1,
        'a bracket in a comment opens nothing, and the lines after the comment still count',
      ],
    ];
    for (const [prefix, text, suffix, replaceSuffix, why] of cases) {
      assert.deepEqual(fitToSuffix(text, suffix, prefix), { text, replaceSuffix }, why);
    }
    const ctx = contextAt('const cubes = primes.map(|)');
    const p = postprocess('(p) => p * p);', ctx, 1);
    assert.ok(p.ok && p.suggestion.replaceSuffix === 1, JSON.stringify(p));
  });

  it('cuts a multi-line suggestion at the end of the indentation scope', () => {
    const inBody = contextAt('function f() {\n  |\n}');
    assert.equal(
      cutAtScopeEnd('const a = 1;\n  return a;\n}\n\nfunction g() {', inBody),
      'const a = 1;\n  return a;',
    );
    const afterOpener = contextAt('  if (x) {|\n  }');
    assert.equal(
      cutAtScopeEnd('\n    go();\n    stop();\n  }\n  next();', afterOpener),
      '\n    go();\n    stop();',
    );
    assert.equal(
      cutAtScopeEnd('if (a) {\n    b();\n  }\n}', inBody),
      'if (a) {\n    b();\n  }',
      'a block the suggestion opens keeps its closing brace',
    );
    const python = contextAt('def f(x):|\n', 'python');
    assert.equal(cutAtScopeEnd('\n    return x\n\ndef g():', python), '\n    return x');
  });

  it('drops what repeats the following lines or the line itself', () => {
    const ctx = contextAt('function f() {\n  |\n  return 1;\n}');
    assert.equal(cutRepeatOfFollowing('return 1;', ctx), '', 'the next line already says it');
    assert.equal(
      cutRepeatOfFollowing('const a = 2;\n  return 1;', ctx),
      'const a = 2;',
      'stops where the file goes on',
    );
    assert.equal(cutSelfRepetition('a();\nb();\nb();\nb();'), 'a();\nb();');
    assert.equal(
      cutInlineLoop('(cub) => cubes.map((cub) => cubes.map((cub) => cubes.map((cub) => cubes'),
      '(cub) => cubes.map(',
    );
    assert.equal(cutInlineLoop('x = 1;\ny = f(abcdefgh, abcdefgh, abcdefgh, '), 'x = 1;\ny = f(abcdefgh, ');
    assert.equal(cutInlineLoop('# ------------------------------'), '# ------------------------------');
    assert.equal(
      cutInlineLoop('return items.map((item) => item.id);'),
      'return items.map((item) => item.id);',
    );
    assert.ok(isRepetition('console.log(x)', '  console.log(x)'));
    assert.ok(!isRepetition('x', 'x'));
  });

  it('re-indents continuation lines with the file style', () => {
    assert.equal(matchIndentation('{\n    a\n        b', { useTabs: true, size: 4 }), '{\n\ta\n\t\tb');
    assert.equal(matchIndentation('{\n\ta', { useTabs: false, size: 2 }), '{\n  a');
  });

  it('composes the steps: single-line mode keeps the first line only', () => {
    const ctx = contextAt('const x = foo(|);');
    assert.deepEqual(postprocess('a, b);\nmore();', ctx, 1), {
      ok: true,
      suggestion: { text: 'a, b);', replaceSuffix: 2 },
    });
    assert.deepEqual(postprocess('   ', ctx, 1), { ok: false, reason: 'empty' });
    assert.deepEqual(postprocess('x', ctx, 1), { ok: false, reason: 'too-short' }, 'a key saves nothing');
  });
});
