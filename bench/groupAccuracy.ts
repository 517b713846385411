/**
 * `npm run bench:groups -- DIR [--files 8] [--places 5] [--json]`: what summing far chunks into groups
 * (DocumentState groupFar, issue 25) costs in accuracy and saves in memory.
 *
 * For seeded lines of DIR's larger files (12-40 KB), the state at the line's end scores the 128 tokens after
 * it (bits per token, exact body hidden states): built from scratch there without groups; with groups there;
 * with groups built around another cursor, asked at once (a jump before any build there); and after the
 * cursor moved there (a build that computes the groups near it again). Tune on the valid split only.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { DocumentState, FastWeightState } from '../src/runtime';
import { mediumFiles, seededRandom } from './heldOut';
import { addTo, bitsAfter, loadCpuRuntime } from './scoring';

const SCORED = 128;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      files: { type: 'string', default: '8' },
      places: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: npm run bench:groups -- DIR [--files N] [--places N]');
  const rt = await loadCpuRuntime();
  const texts = mediumFiles(dir, Number(values.files));
  const random = seededRandom(11);
  const bits: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  let tokens = 0;
  let places = 0;
  const add = addTo;
  for (const text of texts) {
    const lines = text.split('\n');
    const ids = [rt.config.bos_token_id, ...rt.tokenizer.encode(text)];
    const { hidden } = await rt.hiddenOf(ids);
    const score = (t0: number, state: FastWeightState): Promise<number> =>
      bitsAfter(rt, hidden, ids, t0, state, SCORED);
    for (let p = 0; p < Number(values.places); p++) {
      const line = 10 + random(lines.length - 40);
      const other = 10 + random(lines.length - 40);
      const cursorOffset = lines.slice(0, line + 1).join('\n').length;
      const otherOffset = lines.slice(0, other + 1).join('\n').length;
      const scratch = new DocumentState(rt);
      await scratch.rebuild(text, { priority: 'foreground', cursorOffset });
      const t0 = Math.min(scratch.positionForPrefix(text.slice(0, cursorOffset)), ids.length - SCORED - 1);
      if (t0 < 0) continue;
      add(bits, 'static', await score(t0, rt.zeroState()));
      add(bits, 'scratch', await score(t0, scratch.stateAt(t0)));
      add(bytes, 'scratch', scratch.byteLength);
      const here = new DocumentState(rt);
      await here.rebuild(text, { priority: 'foreground', cursorOffset, groupFar: true });
      add(bits, 'grouped', await score(t0, here.stateAt(t0)));
      add(bytes, 'grouped', here.byteLength);
      const moved = new DocumentState(rt);
      await moved.rebuild(text, { priority: 'foreground', cursorOffset: otherOffset, groupFar: true });
      add(bits, 'jump_at_once', await score(t0, moved.stateAt(t0).clone()));
      await moved.rebuild(text, { priority: 'foreground', cursorOffset, groupFar: true });
      add(bits, 'jump_then_built', await score(t0, moved.stateAt(t0)));
      add(bytes, 'jump_then_built', moved.byteLength);
      tokens += SCORED;
      places++;
    }
    process.stderr.write(`[groups] ${tokens} tokens scored\n`);
  }
  const base = bits['scratch']! / tokens;
  const result: Record<string, { bits_per_token: number; vs_scratch_pct: number; mb?: number }> = {};
  for (const [key, sum] of Object.entries(bits)) {
    result[key] = { bits_per_token: sum / tokens, vs_scratch_pct: (sum / tokens / base - 1) * 100 };
    if (bytes[key] !== undefined) result[key].mb = bytes[key] / places / 1048576;
  }
  if (values.json) {
    console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, tokens, places, files: texts.length, ...result }));
    return;
  }
  console.log(`${os.cpus()[0]?.model}; ${places} places in ${texts.length} files, ${tokens} tokens scored`);
  for (const [key, r] of Object.entries(result)) {
    const mb = r.mb !== undefined ? `, ${r.mb.toFixed(1)} MB per state` : '';
    console.log(
      `${key}: ${r.bits_per_token.toFixed(5)} bits/token (${r.vs_scratch_pct.toFixed(3)}% vs scratch)${mb}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
