import * as assert from 'node:assert/strict';
import { completeLine } from '../../src/runtime';
import { ModelClient } from '../../src/host/client';
import { CancellationSource } from '../../src/completion/cancellation';
import { modelFromClient } from '../../src/completion/generate';
import { runtime, workerClient } from './helpers';

const BODY = `export class Cart {
  private items: { name: string; price: number }[] = [];

  add(name: string, price: number): void {
    this.items.push({ name, price });
  }

  total(): number {
    let sum = 0;
    for (const item of this.items) {
      `;

describe('completion generation on the real model', () => {
  it('writes several lines when asked, and stays on one line by default', async () => {
    const rt = await runtime();
    const one = await completeLine(rt, BODY, { maxTokens: 40 });
    assert.ok(!one.text.includes('\n'));
    const many = await completeLine(rt, BODY, { maxTokens: 80, maxLines: 4 });
    assert.ok(many.text.split('\n').length <= 4, JSON.stringify(many.text));
    assert.ok(many.text.startsWith(one.text), 'the first line is the same greedy text');
    console.log(`      multi-line: ${JSON.stringify(many.text)} (${many.tokens} tokens, stop ${many.stop})`);
  });

  it('stops decoding where the indentation scope ends', async () => {
    const rt = await runtime();
    const c = await completeLine(rt, BODY, { maxTokens: 120, maxLines: 30, minIndent: 6 });
    const lines = c.text.split('\n');
    // Every line before the last stays inside the loop body; only the last may be the one that left it.
    for (const line of lines.slice(1, -1)) {
      if (line.trim().length > 0)
        assert.ok(line.length - line.trimStart().length >= 6, JSON.stringify(c.text));
    }
    if (c.stop === 'newline' && lines.length > 1 && lines.length < 30) {
      const last = lines.at(-1)!;
      assert.ok(last.length - last.trimStart().length < 6, `stopped at ${JSON.stringify(last)}`);
    }
  });
});

describe('cancellation aborts generation in the worker', () => {
  let client: ModelClient;

  before(async () => {
    client = workerClient();
    await client.ready;
  });

  after(async () => {
    await client.dispose();
  });

  it('stops decoding when the token fires, long before the token budget', async () => {
    const model = modelFromClient(() => client);
    const source = new CancellationSource();
    // Up to 400 tokens over 60 lines: seconds of decoding unless the cancel reaches the worker.
    const pending = client.complete('file:///cancel.ts', BODY, 400, source.token, false, 60);
    await new Promise((r) => setTimeout(r, 50));
    source.cancel();
    const c = await pending;
    assert.equal(c.cancelled, true, `stop: ${c.stop}`);
    assert.ok(c.tokens < 400, `${c.tokens} tokens decoded`);
    // Through the pipeline's port a cancelled request comes back as cancelled, not as an error.
    const again = new CancellationSource();
    again.cancel();
    const g = await model.generate(
      { uri: 'file:///cancel.ts', prefix: BODY, maxTokens: 400, maxLines: 60, adapt: false },
      again.token,
    );
    assert.equal(g.cancelled, true);
  });
});
