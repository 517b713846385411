import * as assert from 'node:assert/strict';
import { SuggestionCache } from '../../src/completion/cache';
import { CancellationSource, LatestRequest, whenCancelled } from '../../src/completion/cancellation';
import { buildContext, promptStart } from '../../src/completion/context';
import { debounce } from '../../src/completion/debounce';
import { detectIndentation } from '../../src/completion/indentation';
import { ShownSuggestions } from '../../src/completion/show';
import { CompletionStats } from '../../src/completion/stats';

describe('suggestion cache', () => {
  it('serves the rest of a suggestion while the user types it, with the same id', () => {
    const c = new SuggestionCache();
    const id = c.store('doc', 'const x = ', 'foo(bar);');
    assert.deepEqual(c.find('doc', 'const x = '), {
      text: 'foo(bar);',
      id,
      typed: 0,
      confidence: 1,
      origin: 'model',
    });
    assert.deepEqual(c.find('doc', 'const x = fo'), {
      text: 'o(bar);',
      id,
      typed: 2,
      confidence: 1,
      origin: 'model',
    });
    assert.equal(c.lookup('doc', 'const x = foo(bar);'), undefined, 'typed to the end: nothing left');
    assert.equal(c.lookup('doc', 'const x = fx'), undefined, 'typed something else');
    assert.equal(c.lookup('other', 'const x = fo'), undefined, 'another document');
    c.clear('doc');
    assert.equal(c.lookup('doc', 'const x = fo'), undefined);
  });

  it('types through a multi-line suggestion across the newline', () => {
    const c = new SuggestionCache();
    c.store('doc', 'if (a) {\n', '  b();\n  c();');
    assert.equal(c.lookup('doc', 'if (a) {\n  b();\n  '), 'c();');
  });

  it('remembers an empty answer for the exact prefix, so it is not asked again', () => {
    const c = new SuggestionCache();
    const id = c.store('doc', 'x', '');
    assert.deepEqual(c.find('doc', 'x'), { text: '', id, typed: 0, confidence: 1, origin: 'model' });
    assert.equal(c.find('doc', 'xy'), undefined);
  });

  it('prefers the newest entry and keeps a bounded number', () => {
    const c = new SuggestionCache();
    c.store('doc', 'a', 'bc');
    const newer = c.store('doc', 'ab', 'cd');
    assert.equal(c.find('doc', 'abc')?.id, newer);
    for (let i = 0; i < 40; i++) c.store('doc', `p${i}`, 'x');
    assert.equal(c.find('doc', 'ab'), undefined, 'old entries were dropped');
  });
});

describe('cancellation stage', () => {
  it('fires listeners once and links sources', () => {
    const parent = new CancellationSource();
    const { source: child, dispose } = CancellationSource.linkedTo(parent.token);
    let calls = 0;
    child.token.onCancellationRequested(() => calls++);
    parent.cancel();
    parent.cancel();
    assert.equal(child.token.isCancellationRequested, true);
    assert.equal(calls, 1);
    dispose();
  });

  it('a newer request for a document cancels the older one, not other documents', () => {
    const latest = new LatestRequest();
    const a1 = latest.begin('a');
    const b1 = latest.begin('b');
    const a2 = latest.begin('a');
    assert.equal(a1.isCancelled, true);
    assert.equal(b1.isCancelled, false);
    assert.equal(a2.isCancelled, false);
    latest.end('a', a2);
    latest.begin('a');
    assert.equal(a2.isCancelled, false, 'a finished request is left alone');
  });

  it('whenCancelled resolves on cancel', async () => {
    const s = new CancellationSource();
    const w = whenCancelled(s.token);
    s.cancel();
    await w.promise;
  });
});

describe('debounce stage', () => {
  it('goes on after the quiet time and stops when a keystroke cancels it', async () => {
    const waits: number[] = [];
    const virtualSleep = async (ms: number): Promise<void> => {
      waits.push(ms);
    };
    const quiet = new CancellationSource();
    assert.equal(await debounce(75, quiet.token, virtualSleep), true);
    assert.deepEqual(waits, [75]);
    const typed = new CancellationSource();
    const never = (): Promise<void> => new Promise(() => undefined);
    const pending = debounce(75, typed.token, never);
    typed.cancel();
    assert.equal(await pending, false);
    assert.equal(await debounce(0, quiet.token, never), true, 'no debounce: no wait');
  });
});

describe('context stage', () => {
  it('splits the cursor line and collects the following lines', () => {
    const text = 'a\n  foo(bar);\nnext\nlast';
    const ctx = buildContext({ uri: 'u', languageId: 'typescript', text, cursor: text.indexOf('bar') });
    assert.equal(ctx.linePrefix, '  foo(');
    assert.equal(ctx.lineSuffix, 'bar);');
    assert.equal(ctx.lineIndent, '  ');
    assert.deepEqual(ctx.followingLines, ['next', 'last']);
    assert.equal(ctx.prefix, 'a\n  foo(');
  });

  it('moves the prompt start in coarse steps, so typing keeps cache keys comparable', () => {
    assert.equal(promptStart(1000, 16384), 0);
    const a = promptStart(30000, 16384);
    assert.equal(promptStart(30001, 16384), a);
    assert.ok(30000 - a >= 16384);
  });

  it('detects tabs vs spaces and the level width', () => {
    assert.deepEqual(detectIndentation('a {\n\tb {\n\t\tc\n\t}\n}'), { useTabs: true, size: 4 });
    assert.deepEqual(detectIndentation('a:\n  b:\n    c\n  d\n'), { useTabs: false, size: 2 });
    assert.deepEqual(detectIndentation('def f():\n    return 1\n'), { useTabs: false, size: 4 });
  });
});

describe('show stage', () => {
  it('counts a suggestion once however often it is shown, and one accept per suggestion', () => {
    const stats = new CompletionStats();
    const shown = new ShownSuggestions(stats);
    const s = {
      id: 7,
      uri: 'u',
      text: 'abc',
      cursor: 0,
      replaceEnd: 0,
      fromCache: false,
      latencyMs: 40,
      confidence: 0.5,
      origin: 'model' as const,
    };
    shown.shown(s);
    shown.shown({ ...s, text: 'bc', fromCache: true, latencyMs: undefined });
    assert.equal(stats.forFile('u').shown, 1);
    assert.equal(shown.accept(7, 'u', 2), true);
    assert.equal(shown.accept(7, 'u', 2), false);
    assert.deepEqual(
      [stats.forFile('u').accepted, stats.forFile('u').charsAccepted, stats.forFile('u').acceptanceRate],
      [1, 2, 1],
    );
  });
});
