/**
 * `npm run soak -- --minutes N [--open 30] [--log file.jsonl]`: hours of use in minutes. Replays held-out
 * files (data/test-files, else the repository's sources) as a person types them into the same ModelClient and
 * worker the extension uses, with the extension's input guards: open a file part-written, type the next
 * lines edit by edit (the cursor following), ask for a completion at each line end, switch between open files
 * (the cursor jumping somewhere in the file first), close the oldest.
 * Every 10 s it samples the process's RSS and heap and the states' memory; at the end it prints the peaks
 * against the memory budget and the growth between the first and the last third of the run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelClient } from '../src/host/client';
import { adaptationText, skipReason } from '../src/inputGuards';
import { defaultModelDir } from '../src/runtime';

interface Sample {
  atS: number;
  rssMB: number;
  heapMB: number;
  externalMB: number;
  stateMB: number;
  openFiles: number;
}

const MB = 1024 * 1024;
const root = path.resolve(__dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function heldOutFiles(): string[] {
  const held = path.join(root, 'data', 'test-files');
  const base = fs.existsSync(held) ? held : path.join(root, 'src');
  return (fs.readdirSync(base, { recursive: true }) as string[])
    .filter((f) => /\.(ts|tsx|js|py)$/.test(f))
    .sort()
    .map((f) => path.join(base, f));
}

/** A deterministic shuffle, so two runs replay the same files in the same order. */
function shuffled<T>(items: T[], seed = 1): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface OpenDoc {
  uri: string;
  version: number;
  text: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      open: { type: 'string', default: '30' },
      log: { type: 'string' },
      'budget-mb': { type: 'string' },
    },
  });
  const endAt = Date.now() + Number(values.minutes) * 60_000;
  const maxOpen = Number(values.open);
  const logFile = values.log;
  const budgetMB = Number(values['budget-mb'] ?? 256);
  const client = new ModelClient({
    modelDir: defaultModelDir(root),
    provider: 'cpu',
    precision: 'int8', // as the extension runs it
    maxMemoryMB: budgetMB,
    workerPath: path.join(root, 'out', 'worker.js'),
  });
  await client.ready;

  const open = new Map<string, OpenDoc>();
  const samples: Sample[] = [];
  const counts = { files: 0, edits: 0, completions: 0, cursorJumps: 0, errors: 0, skipped: 0 };
  const started = Date.now();
  const sample = (): void => {
    const m = process.memoryUsage();
    let state = 0;
    for (const uri of open.keys()) state += client.documentState(uri)?.bytes ?? 0;
    const s: Sample = {
      atS: Math.round((Date.now() - started) / 1000),
      rssMB: m.rss / MB,
      heapMB: m.heapUsed / MB,
      externalMB: (m.external + m.arrayBuffers) / MB,
      stateMB: state / MB,
      openFiles: open.size,
    };
    samples.push(s);
    const line = JSON.stringify({ ...s, ...counts });
    if (logFile) fs.appendFileSync(logFile, `${line}\n`);
    process.stderr.write(`[soak] ${line}\n`);
  };
  const sampler = setInterval(sample, 10_000);

  const send = (doc: OpenDoc, delayMs?: number): void => {
    const text = doc.text;
    client.documentChanged(
      doc.uri,
      doc.version,
      () => (skipReason(text) ? '' : adaptationText(text)),
      delayMs,
    );
  };
  const complete = async (doc: OpenDoc): Promise<void> => {
    try {
      await client.complete(doc.uri, doc.text.slice(-16384), 48);
      counts.completions++;
    } catch {
      counts.errors++;
    }
  };

  const files = shuffled(heldOutFiles());
  for (let i = 0; Date.now() < endAt; i++) {
    const file = files[i % files.length]!;
    const full = fs.readFileSync(file, 'utf8');
    if (skipReason(full)) counts.skipped++;
    const lines = full.split('\n');
    const start = Math.floor(lines.length * 0.3);
    const doc: OpenDoc = {
      uri: `file://${file}#soak-${i}`,
      version: 1,
      text: lines.slice(0, start).join('\n'),
    };
    open.set(doc.uri, doc);
    counts.files++;
    send(doc, 0);
    // Type the next 12 lines in pieces of a few characters, as keystrokes arrive.
    for (const line of lines.slice(start, start + 12)) {
      if (Date.now() >= endAt) break;
      for (let c = 0; c <= line.length; c += 6) {
        doc.text += c + 6 > line.length ? `${line.slice(c)}\n` : line.slice(c, c + 6);
        doc.version++;
        counts.edits++;
        send(doc);
        client.cursorMoved(doc.uri, doc.text.length); // the editor's cursor follows the typing
        await sleep(20);
      }
      await complete(doc);
    }
    // Rapid switching: a completion in a few other open files, each focus rebuilding at once.
    for (const other of shuffled([...open.values()], i + 7).slice(0, 3)) {
      send(other, 0);
      // The cursor lands somewhere in the file first (a jump), then back at the end where typing goes on.
      client.cursorMoved(other.uri, Math.floor(other.text.length * ((i * 37) % 100) * 0.01));
      counts.cursorJumps++;
      await sleep(200);
      client.cursorMoved(other.uri, other.text.length);
      await complete(other);
    }
    while (open.size > maxOpen) {
      const oldest = open.keys().next().value!;
      client.documentClosed(oldest);
      open.delete(oldest);
    }
  }
  clearInterval(sampler);
  sample();
  await client.dispose();

  const third = Math.max(1, Math.floor(samples.length / 3));
  const avg = (xs: Sample[], k: keyof Sample): number => xs.reduce((a, s) => a + s[k], 0) / xs.length;
  const summary = {
    minutes: (Date.now() - started) / 60_000,
    ...counts,
    budget_mb: budgetMB,
    peak_rss_mb: Math.max(...samples.map((s) => s.rssMB)),
    peak_heap_mb: Math.max(...samples.map((s) => s.heapMB)),
    peak_state_mb: Math.max(...samples.map((s) => s.stateMB)),
    rss_first_third_mb: avg(samples.slice(0, third), 'rssMB'),
    rss_last_third_mb: avg(samples.slice(-third), 'rssMB'),
    heap_first_third_mb: avg(samples.slice(0, third), 'heapMB'),
    heap_last_third_mb: avg(samples.slice(-third), 'heapMB'),
  };
  console.log(
    JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)),
  );
  if (summary.peak_state_mb > budgetMB) {
    console.error(`[soak] state memory ${summary.peak_state_mb.toFixed(0)} MB exceeded the budget`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
