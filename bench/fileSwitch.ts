/**
 * The first suggestion after going to another file, through the ModelClient and worker the extension uses.
 * Four files are open and visited in turn, so the file gone to was last used three files ago (the worker
 * keeps the prompt keys of the last two). "rest": the cursor rests in the file before the request (the
 * editor sends the cursor once it has rested 150 ms; here 500 ms pass before the request, a person looking
 * before typing); "no rest": the request comes at once, as the old worker always served it. "back": going
 * back and forth between two of the files, requests at once (the worker keeps both files' prompt keys).
 */
import * as path from 'node:path';
import { ModelClient } from '../src/host/client';
import type { ProviderChoice } from '../src/runtime';

export interface FileSwitchOptions {
  root: string;
  modelDir: string;
  /** The files' texts (4 or more, each long enough for a full prompt). */
  texts: string[];
  rounds?: number;
  restMs?: number;
  provider?: ProviderChoice;
}

export interface FileSwitchSample {
  ms: number;
  promptTokens: number;
  cachedPromptTokens: number;
}

export interface FileSwitchResult {
  rest: FileSwitchSample[];
  noRest: FileSwitchSample[];
  back: FileSwitchSample[];
  restMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A cursor 60% into the text, after the first three characters of a line's code. */
function cursorIn(text: string): number {
  const lineStart = text.lastIndexOf('\n', Math.floor(text.length * 0.6)) + 1;
  const indent = /^[ \t]*/.exec(text.slice(lineStart))![0].length;
  return Math.min(text.length, lineStart + indent + 3);
}

export async function measureFileSwitch(options: FileSwitchOptions): Promise<FileSwitchResult> {
  const restMs = options.restMs ?? 500;
  const rounds = options.rounds ?? 3;
  const client = new ModelClient({
    modelDir: options.modelDir,
    provider: options.provider ?? 'cpu',
    precision: 'int8', // as the extension runs it
    workerPath: path.join(options.root, 'out', 'worker.js'),
  });
  const rest: FileSwitchSample[] = [];
  const noRest: FileSwitchSample[] = [];
  const back: FileSwitchSample[] = [];
  const timed = async (uri: string, prefix: string): Promise<FileSwitchSample> => {
    const t0 = performance.now();
    const c = await client.complete(uri, prefix, 48);
    return {
      ms: performance.now() - t0,
      promptTokens: c.promptTokens,
      cachedPromptTokens: c.cachedPromptTokens,
    };
  };
  try {
    await client.ready;
    const files = options.texts.map((text, i) => ({
      uri: `file:///bench/switch-${i}.ts`,
      text,
      at: cursorIn(text),
    }));
    for (const f of files) {
      client.documentChanged(f.uri, 1, () => f.text, 0, f.at);
      await client.whenIdle(f.uri);
    }
    // One visit of every file first, so that each measured visit finds the prompt keys of others evicted.
    for (const f of files) await client.complete(f.uri, f.text.slice(0, f.at), 48);
    for (let round = 0; round < 2 * rounds; round++) {
      const resting = round % 2 === 0;
      for (const f of files) {
        if (resting) {
          client.cursorMoved(f.uri, f.at);
          await sleep(restMs);
        }
        (resting ? rest : noRest).push(await timed(f.uri, f.text.slice(0, f.at)));
      }
    }
    // Back and forth, after one visit of each of the two (not counted).
    for (let visit = -2; visit < 2 * rounds; visit++) {
      const f = files[(visit + 2) % 2]!;
      const sample = await timed(f.uri, f.text.slice(0, f.at));
      if (visit >= 0) back.push(sample);
    }
    return { rest, noRest, back, restMs };
  } finally {
    await client.dispose();
  }
}
