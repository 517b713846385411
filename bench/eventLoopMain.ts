/**
 * `npm run bench:eventloop [-- --json] [--lines N] [--whole-file]`: prints the extension host's event-loop
 * delay (max, p99) while a 20,000-line file adapts in the model worker.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultModelDir } from '../src/runtime';
import { measureEventLoopDelay } from './eventLoop';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      lines: { type: 'string', default: '20000' },
      'whole-file': { type: 'boolean', default: false },
    },
  });
  const root = path.resolve(__dirname, '..');
  const r = await measureEventLoopDelay({
    root,
    modelDir: defaultModelDir(root),
    lines: Number(values.lines),
    wholeFile: values['whole-file'],
  });
  if (values.json) {
    console.log(JSON.stringify({ event_loop_delay: r }));
    return;
  }
  console.log(
    `event-loop delay while a ${r.lines}-line file (${r.chars} chars, ${r.sentChars} sent, ` +
      `${r.tokens} tokens in the state) adapts in ${r.adaptMs.toFixed(0)} ms:\n` +
      `  max ${r.maxMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, mean ${r.meanMs.toFixed(1)} ms\n` +
      `  idle worker, same machine load: max ${r.idle.maxMs.toFixed(1)} ms, p99 ${r.idle.p99Ms.toFixed(1)} ms`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
