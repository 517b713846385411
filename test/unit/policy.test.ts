import * as assert from 'node:assert/strict';
import { linesAllowed, shouldSuggest } from '../../src/completion/policy';
import { decideTrigger } from '../../src/completion/trigger';
import { DEFAULT_SETTINGS, isEnabledFor } from '../../src/completion/settings';
import { contextAt } from './completionContext';

describe('completion policy: where and how much', () => {
  it('suggests at the end of a line or before closing characters only', () => {
    assert.ok(shouldSuggest(''));
    assert.ok(shouldSuggest('   '));
    assert.ok(shouldSuggest(');'));
    assert.ok(shouldSuggest('})'));
    assert.ok(!shouldSuggest('foo)'));
    assert.ok(!shouldSuggest(' + b'));
  });

  it('goes multi-line only on an empty line or after a block opener', () => {
    assert.equal(linesAllowed(contextAt('function f() {\n  |\n}'), 6), 6);
    assert.equal(linesAllowed(contextAt('function f() {|\n}'), 6), 6);
    assert.equal(linesAllowed(contextAt('def f(x):|\n', 'python'), 6), 6);
    assert.equal(linesAllowed(contextAt('const f = (x: number) => |\n'), 6), 6, 'the body after an arrow');
    assert.equal(linesAllowed(contextAt('const ok = a >= |\n'), 6), 1, 'a comparison opens nothing');
    assert.equal(linesAllowed(contextAt('const x = foo(|);'), 6), 1);
    assert.equal(linesAllowed(contextAt('  return a|'), 6), 1);
    assert.equal(linesAllowed(contextAt('function f() {\n  |\n}'), 1), 1, 'maxLines 1 keeps one line');
  });
});

describe('trigger stage', () => {
  it('reads the per-language enable map: a language entry wins over "*"', () => {
    assert.equal(isEnabledFor({ '*': true, markdown: false }, 'markdown'), false);
    assert.equal(isEnabledFor({ '*': true, markdown: false }, 'python'), true);
    assert.equal(isEnabledFor({ '*': false, python: true }, 'python'), true);
    assert.equal(isEnabledFor({ '*': false }, 'typescript'), false);
    assert.equal(isEnabledFor({}, 'typescript'), true);
  });

  it('in manual mode, only asked-for requests generate; typing keeps what is shown (cache only)', () => {
    const manual = { ...DEFAULT_SETTINGS, triggerMode: 'manual' as const };
    assert.equal(decideTrigger(manual, 'typescript', 'automatic'), 'cache-only');
    assert.equal(decideTrigger(manual, 'typescript', 'manual'), 'go');
    assert.equal(decideTrigger(DEFAULT_SETTINGS, 'typescript', 'automatic'), 'go');
    const off = { ...DEFAULT_SETTINGS, enable: { '*': true, python: false } };
    assert.equal(decideTrigger(off, 'python', 'manual'), 'off');
  });
});
