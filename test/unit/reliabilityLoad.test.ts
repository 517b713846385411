/**
 * Load: a burst of 1,000 edits reaches the worker as one state build, and 200 open files keep their states
 * within the memory budget (least recently used dropped first).
 */
import * as assert from 'node:assert/strict';
import { DocumentStates } from '../../src/adaptation/documentStates';
import { runtime, workerClient } from './helpers';

/** A small distinct TypeScript file: one state chunk. */
const smallFile = (i: number): string =>
  `export function total${i}(items: number[]): number {\n  let sum = ${i};\n` +
  `  for (const item of items) sum += item;\n  return sum;\n}\n`;

describe('reliability: load', () => {
  it('a burst of 1,000 edits in a second is sent to the worker once, and the last version is built', async () => {
    const client = workerClient();
    try {
      await client.ready;
      const worker = (client as unknown as { worker: { postMessage(m: { type: string }): void } }).worker;
      const post = worker.postMessage.bind(worker);
      let updates = 0;
      worker.postMessage = (m) => {
        if (m.type === 'docUpdate') updates++;
        post(m);
      };
      const uri = 'file:///tmp/burst.ts';
      let text = smallFile(0);
      for (let v = 1; v <= 1000; v++) {
        text += v % 40 === 0 ? '\n' : 'x';
        const snapshot = text;
        client.documentChanged(uri, v, () => snapshot);
        if (v % 100 === 0) await new Promise((r) => setTimeout(r, 1)); // keystrokes arrive over time
      }
      await client.whenIdle(uri);
      assert.equal(client.documentState(uri)?.builtVersion, 1000);
      assert.ok(updates <= 2, `${updates} document updates reached the worker for one burst`);
    } finally {
      await client.dispose();
    }
  });

  it('200 open files: the states stay within the memory budget, the most recent ones kept', async () => {
    const rt = await runtime();
    const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 });
    states.setRuntime(rt);
    const uris = Array.from({ length: 200 }, (_, i) => `file:///tmp/many/file${i}.ts`);
    // The budget fits about a quarter of the files, so eviction does the work.
    states.opened({ uri: uris[0]!, version: 1, getText: () => smallFile(0) });
    await states.whenIdle(uris[0]!);
    const perFile = states.info(uris[0]!)!.bytes;
    const budget = perFile * 50;
    states.setBudget(budget);
    let peak = 0;
    for (let i = 1; i < uris.length; i++) {
      states.opened({ uri: uris[i]!, version: 1, getText: () => smallFile(i) });
      await states.whenIdle(uris[i]!);
      const total = uris.reduce((a, u) => a + (states.info(u)?.bytes ?? 0), 0);
      peak = Math.max(peak, total);
    }
    const kept = uris.filter((u) => (states.info(u)?.tokens ?? 0) > 0);
    console.log(
      `      200 files, ${(perFile / 1048576).toFixed(1)} MB each: ${kept.length} states kept, peak ` +
        `${(peak / 1048576).toFixed(0)} MB of states, budget ${(budget / 1048576).toFixed(0)} MB`,
    );
    assert.ok(peak <= budget, `states reached ${peak} bytes, over the budget of ${budget}`);
    assert.ok(kept.includes(uris[199]!), 'the most recent file keeps its state');
    assert.ok(!kept.includes(uris[1]!), 'an old file was dropped');
    states.setBudget(perFile * 10);
    const after = uris.reduce((a, u) => a + (states.info(u)?.bytes ?? 0), 0);
    assert.ok(after <= perFile * 10, 'a lower budget drops states at once');
    states.dispose();
  });
});
