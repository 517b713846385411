/**
 * `npm run bench:keycontext -- DIR [--contexts 0,16,32,64] [--files 8] [--edits 5] [--json]`: how stale
 * chunk contributions may be after typing, for the chunk-key context (documentState.ts KEY_CONTEXT).
 *
 * For seeded line ends in DIR's larger files (12-40 KB), three bursts of typing at the end of the line are
 * applied to an incremental state built with each key context; the state at the cursor then scores the 128
 * tokens after it (bits per token, exact body hidden states), beside a state built from scratch and the
 * zero state. Chunks computed per burst are the cost side. Tune on the valid split only.
 */
import { parseArgs } from 'node:util';
import { DocumentState, FastWeightState } from '../src/runtime';
import { mediumFiles, seededRandom } from './heldOut';
import { addTo, bitsAfter, loadCpuRuntime } from './scoring';

const BURSTS = [' //', ' // see', ' // see above'];
const SCORED = 128;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      contexts: { type: 'string', default: '0,16,32,64' },
      files: { type: 'string', default: '8' },
      edits: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  });
  const dir = positionals[0];
  if (!dir)
    throw new Error('usage: npm run bench:keycontext -- DIR [--contexts 0,16,64] [--files N] [--edits N]');
  const contexts = values.contexts.split(',').map(Number);
  const rt = await loadCpuRuntime();
  const texts = mediumFiles(dir, Number(values.files));
  const random = seededRandom(9);
  const bits: Record<string, number> = {};
  const chunks: Record<string, number> = {};
  let tokens = 0;
  let bursts = 0;
  const score = (hidden: Float32Array, ids: number[], t0: number, state: FastWeightState): Promise<number> =>
    bitsAfter(rt, hidden, ids, t0, state, SCORED);
  const add = addTo;
  for (const text of texts) {
    const lines = text.split('\n');
    for (let e = 0; e < Number(values.edits); e++) {
      const line = 10 + random(lines.length - 40);
      const versions = BURSTS.map((typed) =>
        [...lines.slice(0, line), lines[line] + typed, ...lines.slice(line + 1)].join('\n'),
      );
      const final = versions[versions.length - 1]!;
      const lineEnd = lines.slice(0, line + 1).join('\n').length;
      const cursorOffset = lineEnd + BURSTS[BURSTS.length - 1]!.length;
      const ids = [rt.config.bos_token_id, ...rt.tokenizer.encode(final)];
      const scratch = new DocumentState(rt);
      await scratch.rebuild(final, { priority: 'foreground', cursorOffset });
      const t0 = Math.min(scratch.positionForPrefix(final.slice(0, cursorOffset)), ids.length - SCORED - 1);
      if (t0 < 0) continue;
      const { hidden } = await rt.hiddenOf(ids);
      add(bits, 'static', await score(hidden, ids, t0, rt.zeroState()));
      add(bits, 'scratch', await score(hidden, ids, t0, scratch.stateAt(t0)));
      for (const k of contexts) {
        const doc = new DocumentState(rt);
        await doc.rebuild(text, { priority: 'foreground', cursorOffset: lineEnd, keyContextTokens: k });
        for (const version of versions) {
          await doc.rebuild(version, { priority: 'foreground', cursorOffset, keyContextTokens: k });
          add(chunks, `context_${k}`, doc.lastBuildComputed);
        }
        add(bits, `context_${k}`, await score(hidden, ids, t0, doc.stateAt(t0)));
      }
      tokens += SCORED;
      bursts += versions.length;
    }
    process.stderr.write(`[keycontext] ${tokens} tokens scored\n`);
  }
  const result: Record<string, { bits_per_token: number; chunks_per_burst?: number }> = {};
  for (const [key, sum] of Object.entries(bits)) {
    result[key] = { bits_per_token: sum / tokens };
    if (chunks[key] !== undefined) result[key].chunks_per_burst = chunks[key] / bursts;
  }
  if (values.json) {
    console.log(JSON.stringify({ tokens, bursts, files: texts.length, ...result }));
    return;
  }
  const base = result['scratch']!.bits_per_token;
  for (const [key, r] of Object.entries(result)) {
    const vs = ((r.bits_per_token / base - 1) * 100).toFixed(3);
    const cost =
      r.chunks_per_burst !== undefined ? `, ${r.chunks_per_burst.toFixed(2)} chunks per burst` : '';
    console.log(`${key}: ${r.bits_per_token.toFixed(5)} bits/token (${vs}% vs scratch)${cost}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
