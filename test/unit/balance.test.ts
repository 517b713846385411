import * as assert from 'node:assert/strict';
import { postprocess } from '../../src/completion/postprocess';
import { balanceFault, balanceSuggestion, leavesUnbalanced } from '../../src/completion/postprocess/balance';
import { fitToSuffix } from '../../src/completion/postprocess/suffix';
import { contextAt } from './completionContext';

/** The suggestion post-processing shows at the `|` of `doc` for the model's `raw` text, or the drop reason. */
function shown(doc: string, raw: string, languageId = 'typescript', lines = 1): string {
  const p = postprocess(raw, contextAt(doc, languageId), lines);
  return p.ok ? p.suggestion.text : `<${p.reason}>`;
}

describe('post-processing: balance', () => {
  it('trims a suggestion that closes a bracket the line never opened (issue 26)', () => {
    const doc = 'for (const [k, v] of obj.headers.entries()) {\n  const cookies = obj.headers.|\n}';
    assert.equal(shown(doc, 'entries()) {'), 'entries()');
    assert.equal(shown('x = y.|', ')]'), '<unbalanced>', 'nothing left before the stray closer');
  });

  it('lets a suggestion close brackets opened on the line or on earlier lines', () => {
    assert.equal(shown('foo(a, |', 'b);'), 'b);');
    assert.equal(shown('const x = [\n  1,\n  2,\n|', '];'), '];', 'the list opened two lines up');
    assert.equal(shown('call(() => {\n  go();\n|', '});'), '});');
    assert.equal(shown('call(() => {\n  go();\n|', ')};'), '<unbalanced>', 'closers in the wrong order');
    assert.equal(shown('const s = `a ${b.|', 'c} d`;'), 'c} d`;', 'a template substitution');
  });

  it('keeps the closers after the cursor in the count (the range logic replaces or keeps them)', () => {
    assert.equal(shown('if (ok(|)', 'x)) {'), 'x)) {', 'replaces the ")" that follows');
    assert.equal(shown('if (ok(|)', 'x))) {'), 'x))', 'one ")" too many: cut before it');
    const fitted = fitToSuffix('x', ')', 'f(');
    assert.equal(balanceFault(contextAt('f(|)'), fitted!), undefined);
  });

  it('ignores brackets and quotes inside strings, comments and regular expressions', () => {
    assert.equal(shown('const s = |', '")" + x;'), '")" + x;');
    assert.equal(shown('const n = 1; |', '// see (a) and b) below'), '// see (a) and b) below');
    assert.equal(shown('const re = |', '/[)\\]]+/g;'), '/[)\\]]+/g;');
    assert.equal(shown("x = 1  # it's (|", 'fine', 'python'), 'fine', 'python comment');
    assert.equal(shown('/* a ) b\n|', 'c */ d;'), 'c */ d;', 'inside a block comment');
    assert.equal(shown('const a = this.#|', 'count + 1;'), 'count + 1;', '# is no comment in TypeScript');
    assert.equal(shown('n = (a // |', '2) + 1', 'python'), '2) + 1');
    assert.equal(shown('n = a // |', 'bc) + 1', 'python'), 'bc', '// is no comment in Python');
  });

  it("trims a string left open at the line's end, but not one the line had open", () => {
    assert.equal(shown('log(|', "x, 'abc"), 'x,');
    assert.equal(shown("log('|", 'abc'), 'abc', 'the line opened it');
    assert.equal(shown("log('|')", "abc');"), "abc');");
    assert.equal(
      shown('def f():\n    |', '"""Return the\n    answer."""', 'python', 3),
      '"""Return the\n    answer."""',
    );
    assert.equal(shown('const t = `|', 'a\nb`;', 'typescript', 2), 'a\nb`;', 'template literals span lines');
  });

  it('checks every line of a multi-line suggestion', () => {
    const doc = 'function f() {\n  |\n}';
    assert.equal(shown(doc, 'const a = 1;\n  return a));', 'typescript', 4), 'const a = 1;\n  return a');
    assert.equal(shown(doc, "log('x);\n  go();", 'typescript', 4), 'log(');
  });

  it('measures what accepting would leave (the replay metric)', () => {
    const text = 'const cookies = obj.headers.\n';
    const cursor = text.indexOf('\n');
    const doc = { uri: 'file:///t.ts', languageId: 'typescript', text, cursor };
    assert.equal(leavesUnbalanced(doc, 'entries()) {', cursor), true);
    assert.equal(leavesUnbalanced(doc, 'entries();', cursor), false);
    const inCall = { ...doc, text: 'f(a, )\n', cursor: 5 };
    assert.equal(leavesUnbalanced(inCall, 'b)', 5), true, 'the ")" after the cursor would be doubled');
    assert.equal(leavesUnbalanced(inCall, 'b)', 6), false, 'it is replaced');
  });

  it('drops a suggestion nothing is left of, and gives up on none that is balanced', () => {
    const ctx = contextAt('x = |');
    assert.equal(balanceSuggestion(ctx, { text: ')', replaceSuffix: 0 }, 2), undefined);
    assert.deepEqual(balanceSuggestion(ctx, { text: 'f(1)', replaceSuffix: 0 }, 2), {
      text: 'f(1)',
      replaceSuffix: 0,
    });
  });
});
