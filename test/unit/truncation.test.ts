import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NEVER_CANCELLED } from '../../src/completion/cancellation';
import type { CompletionModel, Generated, GenerateRequest } from '../../src/completion/generate';
import { CompletionPipeline } from '../../src/completion/pipeline';
import { DEFAULT_SETTINGS } from '../../src/completion/settings';
import { completeLine, FastWeightsRuntime } from '../../src/runtime';
import { FIXTURES, modelDir, runtime } from './helpers';

const TS = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');

/** Prefixes ending at line starts and inside lines of a real file. */
function prefixes(): string[] {
  const out: string[] = [];
  const lines = TS.split('\n');
  for (let i = 6; i < lines.length && out.length < 12; i += 5) {
    const before = lines.slice(0, i).join('\n') + '\n';
    const line = lines[i]!;
    out.push(before + line.slice(0, Math.ceil(line.length / 3)));
  }
  return out;
}

describe('suggestions end before an unsure token', () => {
  it('cuts the text the model would write at its first token below the threshold, never to nothing', async () => {
    const rt = await runtime();
    let cut = 0;
    for (const prefix of prefixes()) {
      const full = await completeLine(rt, prefix, { maxTokens: 24 });
      const same = await completeLine(rt, prefix, { maxTokens: 24, minTokenProb: 0 });
      assert.equal(same.text, full.text);
      const short = await completeLine(rt, prefix, { maxTokens: 24, minTokenProb: 0.5 });
      assert.ok(
        full.text.startsWith(short.text),
        `${JSON.stringify(short.text)} vs ${JSON.stringify(full.text)}`,
      );
      assert.ok(short.tokens <= full.tokens);
      if (full.text.trim().length > 0) assert.ok(short.text.trim().length > 0, 'some text is always kept');
      if (short.stop === 'unsure') {
        cut++;
        assert.ok(short.text.length < full.text.length || full.stop !== 'newline');
      }
    }
    assert.ok(cut > 0, 'at least one suggestion was cut');
  });

  it('keeps a few characters, so a short answer is not cut to nothing (fp32 and the int8 graphs)', async () => {
    const prefix = 'export function twice(x: number): number {\n  return ';
    const int8 = await FastWeightsRuntime.load({ modelDir: modelDir(), provider: 'cpu', precision: 'int8' });
    try {
      for (const rt of [await runtime(), int8]) {
        const c = await completeLine(rt, prefix, { maxTokens: 24, minTokenProb: 0.5 });
        assert.ok(
          c.text.replace(/\s/g, '').length >= 3,
          `a suggestion worth showing: ${JSON.stringify(c.text)}`,
        );
      }
    } finally {
      await int8.dispose();
    }
  });

  it('the pipeline asks for the cut the settings give', async () => {
    const requests: GenerateRequest[] = [];
    const model: CompletionModel = {
      async generate(r): Promise<Generated> {
        requests.push(r);
        return {
          text: 'x + 1;',
          tokens: 3,
          stateTokens: 0,
          confidence: 0.9,
          origin: 'model',
          cancelled: false,
        };
      },
    };
    for (const minTokenProb of [0.3, 0]) {
      const settings = { ...DEFAULT_SETTINGS, debounceMs: 0, minTokenProb };
      const p = new CompletionPipeline({ model, settings: () => settings, sleep: async () => undefined });
      const text = `const x = 1;\nconst y${minTokenProb} = `;
      await p.provide(
        { uri: 'file:///t.ts', languageId: 'typescript', text, cursor: text.length },
        'automatic',
        NEVER_CANCELLED,
      );
    }
    assert.equal(requests[0]!.minTokenProb, 0.3);
    assert.equal(requests[1]!.minTokenProb, undefined);
  });
});
