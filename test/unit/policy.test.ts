import * as assert from 'node:assert/strict';
import { SuggestionCache } from '../../src/completion/cache';
import { fitSuggestion, isRepetition, shouldSuggest } from '../../src/completion/policy';

describe('completion policy', () => {
  it('suggests at the end of a line or before closing characters only', () => {
    assert.ok(shouldSuggest(''));
    assert.ok(shouldSuggest('   '));
    assert.ok(shouldSuggest(');'));
    assert.ok(shouldSuggest('})'));
    assert.ok(!shouldSuggest('foo)'));
    assert.ok(!shouldSuggest(' + b'));
  });

  it('drops empty suggestions and trailing spaces', () => {
    assert.equal(fitSuggestion('   ', ''), undefined);
    assert.deepEqual(fitSuggestion('return x;  ', ''), { text: 'return x;', replaceSuffix: 0 });
  });

  it('replaces closers the suggestion already contains instead of doubling them', () => {
    assert.deepEqual(fitSuggestion('a, b);', ');'), { text: 'a, b);', replaceSuffix: 2 });
    assert.deepEqual(fitSuggestion('a, b)', ')'), { text: 'a, b)', replaceSuffix: 1 });
    assert.deepEqual(fitSuggestion('a, b', ')'), { text: 'a, b', replaceSuffix: 0 });
  });

  it('spots a suggestion that only repeats the line', () => {
    assert.ok(isRepetition('console.log(x)', '  console.log(x)'));
    assert.ok(!isRepetition('x', 'x'));
  });
});

describe('suggestion cache', () => {
  it('serves the rest of a suggestion while the user types it', () => {
    const c = new SuggestionCache();
    c.store('doc', 'const x = ', 'foo(bar);');
    assert.equal(c.lookup('doc', 'const x = '), 'foo(bar);');
    assert.equal(c.lookup('doc', 'const x = fo'), 'o(bar);');
    assert.equal(c.lookup('doc', 'const x = foo(bar);'), undefined);
    assert.equal(c.lookup('doc', 'const x = fx'), undefined);
    assert.equal(c.lookup('other', 'const x = fo'), undefined);
    c.clear('doc');
    assert.equal(c.lookup('doc', 'const x = fo'), undefined);
  });
});
