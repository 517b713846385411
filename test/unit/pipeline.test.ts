import * as assert from 'node:assert/strict';
import { CancellationSource, NEVER_CANCELLED } from '../../src/completion/cancellation';
import type { DocumentSnapshot } from '../../src/completion/context';
import { suggestionOrigin } from '../../src/completion/generate';
import type {
  CompletionModel,
  Generated,
  GenerateRequest,
  SuggestionOrigin,
} from '../../src/completion/generate';
import { CompletionPipeline, Outcome } from '../../src/completion/pipeline';
import { CompletionSettings, DEFAULT_SETTINGS } from '../../src/completion/settings';
import { CompletionStats } from '../../src/completion/stats';

/** A stand-in model: answers from a function, or waits until the test releases it; honours cancellation. */
class FakeModel implements CompletionModel {
  readonly requests: GenerateRequest[] = [];
  cancelled = 0;
  private release: (() => void) | undefined;
  hold = false;
  confidence = 0.9;
  origin: SuggestionOrigin = 'model';

  constructor(private readonly answer: (r: GenerateRequest) => string) {}

  async generate(
    r: GenerateRequest,
    token: { isCancellationRequested: boolean; onCancellationRequested(l: () => void): { dispose(): void } },
  ): Promise<Generated> {
    this.requests.push(r);
    if (this.hold) {
      await new Promise<void>((resolve) => {
        this.release = resolve;
        token.onCancellationRequested(() => resolve());
      });
    }
    if (token.isCancellationRequested) {
      this.cancelled++;
      return { text: '', tokens: 0, stateTokens: 0, confidence: 0, origin: 'model', cancelled: true };
    }
    return {
      text: this.answer(r),
      tokens: 3,
      stateTokens: 0,
      confidence: this.confidence,
      origin: this.origin,
      cancelled: false,
    };
  }

  finish(): void {
    this.release?.();
  }
}

const doc = (text: string, languageId = 'typescript'): DocumentSnapshot => {
  const cursor = text.indexOf('|');
  return { uri: 'file:///a.ts', languageId, text: text.replace('|', ''), cursor };
};

function make(model: CompletionModel, settings: Partial<CompletionSettings> = {}, stats?: CompletionStats) {
  const s = { ...DEFAULT_SETTINGS, debounceMs: 0, ...settings };
  return new CompletionPipeline({ model, settings: () => s, stats, sleep: async () => undefined });
}

const shownText = (o: Outcome): string | undefined => (o.kind === 'shown' ? o.suggestion.text : undefined);

describe('completion pipeline (stand-in model)', () => {
  it('shows a suggestion, then serves it from the cache while the user types through it', async () => {
    const model = new FakeModel(() => 'total + item.price;');
    const p = make(model);
    const first = await p.provide(doc('let total = 0;\ntotal = |'), 'automatic', NEVER_CANCELLED);
    assert.equal(shownText(first), 'total + item.price;');
    const typed = await p.provide(doc('let total = 0;\ntotal = total + it|'), 'automatic', NEVER_CANCELLED);
    assert.equal(shownText(typed), 'em.price;');
    assert.equal(typed.kind === 'shown' && typed.suggestion.fromCache, true);
    assert.equal(model.requests.length, 1, 'no new generation while typing through');
    assert.equal(p.counters.cacheHits, 1);
  });

  it('tells whose text a suggestion is, also while the user types through it', async () => {
    const model = new FakeModel(() => 'total + item.price;');
    model.origin = 'copied';
    const p = make(model);
    const first = await p.provide(doc('let total = 0;\ntotal = |'), 'automatic', NEVER_CANCELLED);
    assert.equal(first.kind === 'shown' && first.suggestion.origin, 'copied');
    const typed = await p.provide(doc('let total = 0;\ntotal = to|'), 'automatic', NEVER_CANCELLED);
    assert.equal(typed.kind === 'shown' && typed.suggestion.fromCache && typed.suggestion.origin, 'copied');
    assert.equal(suggestionOrigin('none', -1, 'abc'), 'model');
    assert.equal(suggestionOrigin('lead', 0, 'abc'), 'copied');
    assert.equal(suggestionOrigin('later', 2, 'abc'), 'partly-copied');
    assert.equal(suggestionOrigin('later', 3, 'abc'), 'model', 'the copied part was cut off before showing');
  });

  it('replaces the closing characters after the cursor instead of doubling them', async () => {
    const p = make(new FakeModel(() => 'a, b);'));
    const o = await p.provide(doc('call(|);\n'), 'automatic', NEVER_CANCELLED);
    assert.ok(o.kind === 'shown');
    assert.equal(o.suggestion.text, 'a, b);');
    assert.equal(o.suggestion.replaceEnd - o.suggestion.cursor, 2, 'the range covers ");"');
  });

  it('asks for a single line mid-line and for a scope-bounded block on an empty line', async () => {
    const model = new FakeModel((r) =>
      r.maxLines > 1 ? 'const a = 1;\n  return a;\n}\nfunction g() {' : 'x',
    );
    const p = make(model, { maxLines: 4 });
    const block = await p.provide(doc('function f() {\n  |\n}'), 'automatic', NEVER_CANCELLED);
    assert.equal(shownText(block), 'const a = 1;\n  return a;');
    assert.equal(model.requests[0]!.maxLines, 4);
    assert.equal(model.requests[0]!.minIndent, 2, 'decoding may stop when the indentation drops');
    await p.provide(doc('const y = |'), 'automatic', NEVER_CANCELLED);
    assert.equal(model.requests[1]!.maxLines, 1);
  });

  it('a newer keystroke cancels the generation in flight and its result is never shown', async () => {
    const model = new FakeModel((r) => `/*${r.prefix.length}*/`);
    model.hold = true;
    const p = make(model);
    const editorToken = new CancellationSource();
    const older = p.provide(doc('const a = |'), 'automatic', editorToken.token);
    await new Promise((r) => setImmediate(r));
    model.hold = false;
    // The user typed: the editor cancels the old request and asks again.
    editorToken.cancel();
    const newer = await p.provide(doc('const a = b|'), 'automatic', NEVER_CANCELLED);
    assert.deepEqual(await older, { kind: 'none', reason: 'cancelled' });
    assert.equal(model.cancelled, 1, 'the first generation saw its token fire');
    assert.equal(p.counters.aborted, 1);
    assert.equal(shownText(newer), '/*11*/');
  });

  it('a burst of keystrokes inside the debounce starts no generation', async () => {
    const model = new FakeModel(() => 'xy');
    const sleeps: (() => void)[] = [];
    const s = { ...DEFAULT_SETTINGS, debounceMs: 50 };
    const p = new CompletionPipeline({
      model,
      settings: () => s,
      sleep: () => new Promise<void>((resolve) => sleeps.push(resolve)),
    });
    const outcomes: Promise<Outcome>[] = [];
    const tokens: CancellationSource[] = [];
    for (const typed of ['c', 'co', 'con', 'cons']) {
      tokens.at(-1)?.cancel();
      const t = new CancellationSource();
      tokens.push(t);
      outcomes.push(p.provide(doc(`${typed}|`), 'automatic', t.token));
    }
    for (const wake of sleeps) wake();
    const results = await Promise.all(outcomes);
    assert.deepEqual(
      results.slice(0, 3).map((o) => o.kind),
      ['none', 'none', 'none'],
    );
    assert.equal(shownText(results[3]!), 'xy');
    assert.equal(model.requests.length, 1, 'only the last keystroke reached the model');
    assert.equal(model.requests[0]!.prefix, 'cons');
    assert.equal(p.counters.debounced, 3);
  });

  it('honours the per-language switch and manual trigger mode', async () => {
    const model = new FakeModel(() => 'print(x)');
    const off = make(model, { enable: { '*': true, python: false } });
    assert.deepEqual(await off.provide(doc('x = 1\n|', 'python'), 'manual', NEVER_CANCELLED), {
      kind: 'none',
      reason: 'off',
    });
    const manual = make(model, { triggerMode: 'manual' });
    assert.deepEqual(await manual.provide(doc('x = 1\n|', 'python'), 'automatic', NEVER_CANCELLED), {
      kind: 'none',
      reason: 'manual-mode',
    });
    assert.equal(model.requests.length, 0);
    assert.equal(
      shownText(await manual.provide(doc('x = 1\n|', 'python'), 'manual', NEVER_CANCELLED)),
      'print(x)',
    );
    // Typing through the suggestion the user asked for keeps it, without asking again.
    assert.equal(
      shownText(await manual.provide(doc('x = 1\npr|', 'python'), 'automatic', NEVER_CANCELLED)),
      'int(x)',
    );
    assert.equal(model.requests.length, 1);
  });

  it('does not show what the model is unsure of, and does not ask again at the same place', async () => {
    const model = new FakeModel(() => 'maybe();');
    model.confidence = 0.1;
    const p = make(model, { minConfidence: 0.3 });
    assert.equal((await p.provide(doc('x = |'), 'automatic', NEVER_CANCELLED)).kind, 'none');
    assert.equal((await p.provide(doc('x = |'), 'automatic', NEVER_CANCELLED)).kind, 'none');
    assert.equal(model.requests.length, 1);
    assert.equal(p.counters.unsure, 1);
  });

  it('asks the model again where the user asks (Alt+\\) and nothing was shown there, and shows its answer', async () => {
    const model = new FakeModel(() => 'maybe();');
    model.confidence = 0.1;
    const p = make(model, { minConfidence: 0.3 });
    assert.equal((await p.provide(doc('x = |'), 'automatic', NEVER_CANCELLED)).kind, 'none');
    const asked = await p.provide(doc('x = |'), 'manual', NEVER_CANCELLED);
    assert.equal(shownText(asked), 'maybe();', 'an explicit request is not held back by minConfidence');
    assert.equal(model.requests.length, 2);
    const again = await p.provide(doc('x = |'), 'manual', NEVER_CANCELLED);
    assert.equal(shownText(again), 'maybe();');
    assert.equal(model.requests.length, 2, 'a shown suggestion is served from the cache');
  });

  it('asks the model again where the user asks and the cached suggestion was dropped by post-processing', async () => {
    let calls = 0;
    // The first answer is one character, too short to show; the model answers differently the second time
    // (as after the file's state was built).
    const model = new FakeModel(() => (calls++ === 0 ? 'E' : 'PI;'));
    const p = make(model);
    assert.deepEqual(await p.provide(doc('x = Math.|'), 'automatic', NEVER_CANCELLED), {
      kind: 'none',
      reason: 'too-short',
    });
    assert.equal((await p.provide(doc('x = Math.|'), 'automatic', NEVER_CANCELLED)).kind, 'none');
    assert.equal(model.requests.length, 1, 'typing is served from the cache');
    assert.equal(shownText(await p.provide(doc('x = Math.|'), 'manual', NEVER_CANCELLED)), 'PI;');
    assert.equal(model.requests.length, 2);
  });

  it('drops a suggestion that repeats the next line and one that is only whitespace', async () => {
    const p = make(new FakeModel((r) => (r.prefix.endsWith('x') ? '   ' : 'return 1;')));
    const o = await p.provide(doc('function f() {\n  |\n  return 1;\n}'), 'automatic', NEVER_CANCELLED);
    assert.deepEqual(o, { kind: 'none', reason: 'repeats-following' });
    assert.equal((await p.provide(doc('x|'), 'automatic', NEVER_CANCELLED)).kind, 'none');
  });

  it('records shown and accepted in the stats and prepares the next suggestion after an accept', async () => {
    const stats = new CompletionStats();
    const model = new FakeModel((r) => (r.prefix.endsWith('= ') ? 'compute();' : 'next();'));
    const p = make(model, {}, stats);
    const o = await p.provide(doc('const v = |'), 'automatic', NEVER_CANCELLED);
    assert.ok(o.kind === 'shown');
    await p.provide(doc('const v = comp|'), 'automatic', NEVER_CANCELLED); // the same suggestion, typed through
    assert.equal(stats.forFile('file:///a.ts').shown, 1);
    p.accepted(o.suggestion.id, 'file:///a.ts', o.suggestion.text.length, doc('const v = compute();\n|'));
    assert.equal(stats.forFile('file:///a.ts').accepted, 1);
    assert.equal(p.counters.speculative, 1);
    const next = await p.provide(doc('const v = compute();\n|'), 'automatic', NEVER_CANCELLED);
    assert.equal(shownText(next), 'next();');
    assert.equal(model.requests.length, 2, 'the request after the accept used the speculative generation');
  });
});
