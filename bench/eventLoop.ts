/**
 * Event-loop delay of the extension host while a large file adapts: the same ModelClient and worker the
 * extension uses, fed what the extension feeds it (the input guards' adaptation text). The model runs in
 * the worker, so the main thread should only see message passing; this measures that it does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { ModelClient } from '../src/host/client';
import { adaptationText } from '../src/inputGuards';
import type { ProviderChoice } from '../src/runtime';
import { heldOutText } from './heldOut';

export interface EventLoopOptions {
  /** Repository root (worker, model and held-out code are found from it). */
  root: string;
  modelDir: string;
  lines?: number;
  provider?: ProviderChoice;
  /** Send the whole file, not just what the extension sends after its input guards. */
  wholeFile?: boolean;
  /** Length of the idle baseline measurement (ms). */
  idleMs?: number;
}

export interface EventLoopResult {
  lines: number;
  chars: number;
  sentChars: number;
  tokens: number;
  adaptMs: number;
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  /** The same measurement over `idleMs` with the worker idle: what the machine's load alone causes. */
  idle: { maxMs: number; p99Ms: number; meanMs: number };
}

function histogramMs(h: IntervalHistogram): { maxMs: number; p99Ms: number; meanMs: number } {
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6 };
}

/** Held-out code (the test split when fetched, else the repository's own sources), joined to `lines`. */
export function largeFile(root: string, lines: number): string {
  const held = heldOutText(root, lines, ['.ts', '.js', '.py']);
  if (held) return held.text;
  const base = path.join(root, 'src');
  const files = (fs.readdirSync(base, { recursive: true }) as string[])
    .filter((f) => /\.(ts|js|py)$/.test(f))
    .sort();
  const out: string[] = [];
  for (let i = 0; out.length < lines; i++) {
    const text = fs.readFileSync(path.join(base, files[i % files.length]!), 'utf8');
    out.push(...text.split('\n'));
  }
  return out.slice(0, lines).join('\n');
}

export async function measureEventLoopDelay(options: EventLoopOptions): Promise<EventLoopResult> {
  const lines = options.lines ?? 20_000;
  const text = largeFile(options.root, lines);
  const sent = options.wholeFile ? text : adaptationText(text);
  const client = new ModelClient({
    modelDir: options.modelDir,
    provider: options.provider ?? 'cpu',
    precision: 'int8', // as the extension runs it
    workerPath: path.join(options.root, 'out', 'worker.js'),
  });
  try {
    await client.ready;
    const idle = monitorEventLoopDelay({ resolution: 10 });
    idle.enable();
    await new Promise((r) => setTimeout(r, options.idleMs ?? 3000));
    idle.disable();
    const uri = 'file:///bench/event-loop-large-file.ts';
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const t0 = performance.now();
    client.documentChanged(uri, 1, () => sent, 0);
    await client.whenIdle(uri);
    const adaptMs = performance.now() - t0;
    histogram.disable();
    const info = client.documentState(uri);
    if (info?.builtVersion !== 1) throw new Error('the state of the large file was not built');
    return {
      lines,
      chars: text.length,
      sentChars: sent.length,
      tokens: info.tokens,
      adaptMs,
      ...histogramMs(histogram),
      idle: histogramMs(idle),
    };
  } finally {
    await client.dispose();
  }
}
