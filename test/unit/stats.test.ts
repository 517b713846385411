import * as assert from 'assert';
import { CompletionStats, summariseLatency } from '../../src/completion/stats';

describe('completion stats', () => {
  it('counts shown and accepted per file and per session', () => {
    const s = new CompletionStats();
    const changed: string[] = [];
    s.onDidChange((uri) => changed.push(uri));
    s.recordShown('a', 30);
    s.recordShown('a');
    s.recordShown('b', 50);
    s.recordAccepted('a', 11);
    const a = s.forFile('a');
    assert.strictEqual(a.shown, 2);
    assert.strictEqual(a.accepted, 1);
    assert.strictEqual(a.acceptanceRate, 0.5);
    assert.strictEqual(a.keystrokesSaved, 10);
    assert.deepStrictEqual(a.latencyMs, { p50: 30, p95: 30, count: 1 });
    const all = s.session();
    assert.strictEqual(all.shown, 3);
    assert.strictEqual(all.accepted, 1);
    assert.deepStrictEqual(all.latencyMs, { p50: 30, p95: 50, count: 2 });
    assert.deepStrictEqual(changed, ['a', 'a', 'b', 'a']);
    s.forget('a');
    assert.strictEqual(s.forFile('a').shown, 0);
    assert.strictEqual(s.forFile('a').acceptanceRate, null);
    assert.strictEqual(s.session().shown, 3);
  });

  it('takes nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepStrictEqual(summariseLatency(v), { p50: 50, p95: 95, count: 100 });
    assert.strictEqual(summariseLatency([]), null);
  });
});
