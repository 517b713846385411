/**
 * `npm run bench:memory [-- --json]`: adaptation memory alone (issue 25): bytes of one 800-line file in use,
 * by part, once folded, and how many such files stay adapted within the default budget. The same figures as
 * `npm run bench`, without the rest of it.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FastWeightsRuntime, defaultModelDir } from '../src/runtime';
import { measureAdaptationMemory } from './adaptationMemory';
import { heldOutText } from './heldOut';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
  const root = path.resolve(__dirname, '..');
  const held = heldOutText(root, 5000, ['.ts']);
  if (!held) throw new Error('needs the test split: python training/corpus.py files --split test');
  const rt = await FastWeightsRuntime.load({ modelDir: defaultModelDir(root), precision: 'int8' });
  const am = await measureAdaptationMemory(rt, held.text);
  rt.dispose();
  if (values.json) {
    console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, ...am }));
    return;
  }
  const parts = Object.entries(am.activeMbByPart)
    .map(([part, mb]) => `${part} ${mb.toFixed(1)}`)
    .join(', ');
  console.log(
    `${os.cpus()[0]?.model}\n` +
      `in use: ${am.activeMb.toFixed(1)} MB for ${am.fileTokens} tokens, ${am.mbPer1kTokens.toFixed(2)} MB per 1,000 (${parts})\n` +
      `folded: ${am.foldedMb === undefined ? 'never' : `${am.foldedMb.toFixed(1)} MB, ${am.foldedMbPer1kTokens!.toFixed(2)} MB per 1,000`}\n` +
      `adapted within ${am.budgetMb} MB: ${am.filesInBudget} of ${am.opened} (${am.folded} folded; ${(am.ms / 1000).toFixed(0)} s)`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
