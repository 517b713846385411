import * as assert from 'node:assert/strict';
import { buildContext } from '../../src/completion/context';
import { GenerationSignals, SHOW_FEATURES, showFeatures } from '../../src/completion/showFeatures';

const signals: GenerationSignals = {
  leadLogProb: Math.log(0.5),
  meanLogProb: -0.2,
  tokens: 4,
  stop: 'unsure',
  origin: 'copied',
};

function featuresAt(text: string, suggestion: string, s = signals): Record<string, number> {
  const cursor = text.indexOf('|');
  const ctx = buildContext({ uri: 'u', languageId: 'typescript', text: text.replace('|', ''), cursor });
  const v = showFeatures(s, ctx, suggestion);
  assert.equal(v.length, SHOW_FEATURES.length);
  return Object.fromEntries(SHOW_FEATURES.map((n, i) => [n, v[i]!]));
}

describe('show features', () => {
  it('reads the generation and the cursor line', () => {
    const f = featuresAt('const x = obj.|', 'items.map((i) => i);');
    assert.equal(f.bias, 1);
    assert.ok(Math.abs(f.lead_logprob! - Math.log(0.5)) < 1e-12);
    assert.equal(f.copied, 1);
    assert.equal(f.partly_copied, 0);
    assert.equal(f.stop_unsure, 1);
    assert.equal(f.after_dot, 1);
    assert.equal(f.line_start, 0);
    assert.equal(f.multi_line, 0);
    assert.ok(Math.abs(f.log_chars! - Math.log1p(20)) < 1e-12);
  });

  it('tells a line start, a word being typed and text after the cursor apart', () => {
    const start = featuresAt('function f() {\n  |\n}', 'return 1;\n}', { ...signals, origin: 'model' });
    assert.equal(start.line_start, 1);
    assert.equal(start.in_word, 0);
    assert.equal(start.multi_line, 1);
    assert.equal(start.copied, 0);
    const word = featuresAt('const total = ite|)', 'ms');
    assert.equal(word.in_word, 1);
    assert.equal(word.mid_line, 1);
    const floor = featuresAt('x = |', 'y', { ...signals, leadLogProb: -Infinity });
    assert.equal(floor.lead_logprob, -10, 'a probability of zero stays a finite feature');
    assert.equal(floor.after_space, 1);
  });
});
