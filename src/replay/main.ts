/**
 * `npm run replay -- FILES... [--json]`: keystrokes saved by the completion pipeline on held-out code, in one
 * run: static model, the per-file fast-weight state alone ("state"), and adapted as the extension ships it
 * (state plus the file's n-gram cache).
 *
 * Scenario "edit": the user rewrites a region of whole lines in an existing file. The document holds the rest
 * of the file around the region; the adapted run builds the file's fast-weight state from that document
 * (without the region, so nothing of the answer leaks) before typing starts, and keeps it while the region
 * is typed, or with --rebuild-at-line-ends brings it up to date at each finished line (the extension
 * rebuilds it after a pause in typing). The simulated user looks at every suggestion (see
 * user.ts); the debounce runs on a virtual clock (counted in latency, not waited for), generation is real.
 *
 * Options: --json, --max-chars N (all regions together, default 3000), --files-limit N (default 15),
 * --seed N (default 1), --max-lines N (default: the extension's), --debounce-ms N (default: the
 * extension's), --abort-probes N (default 8), --model DIR, --min-confidence P (default: the
 * extension's; suggestions less sure are not shown), --cache-weight W and --cache-beta B (the file n-gram
 * cache's fixed mixture weight and back-off; default: the extension's gate and back-off), --cache-gate
 * g0,g1,g2,g3,g4 (the gate's coefficients), --modes static,state,adapted (the runs to make),
 * --languages go,rust,... (VS Code ids to type instead of the trained five, each turned on as
 * `"<id>": true` in fastweights.enable would),
 * --min-token-prob P (suggestions end before a token less probable than P; default: the extension's),
 * --rebuild-at-line-ends (the state and
 * cache are brought up to date with the typed text each time a line is finished; default: built once),
 * --workspace DIR (a fourth run, "workspace": adapted plus the index of DIR's files, the typed file left out;
 * --workspace-per-package: of the package folder right below DIR that holds the typed file).
 * --dump-suggestions FILE: one JSON line per shown suggestion (its showFeatures, accepted or not), what
 * training/acceptance_study.py reads.
 * --debounce-sweep 0,50,100 [--key-interval-ms 120]: instead of the replay, measure each debounce value in
 * real time (sweep.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ModelClient } from '../host/client';
import { CancellationSource } from '../completion/cancellation';
import { modelFromClient } from '../completion/generate';
import { CompletionPipeline } from '../completion/pipeline';
import { TRAINED_LANGUAGES } from '../completion/languages';
import { CompletionSettings, DEFAULT_SETTINGS } from '../completion/settings';
import { SHOW_FEATURES } from '../completion/showFeatures';
import { CompletionStats, summariseLatency } from '../completion/stats';
import { DEFAULT_NGRAM_PARAMS, defaultModelDir, NgramCacheParams } from '../runtime';
import { listFiles, pickRegion, Region, seededRandom, shuffled } from './regions';
import {
  acceptanceByLength,
  acceptanceByOrigin,
  emptyTally,
  suggestionRecords,
  Tally,
  typeRegion,
} from './session';
import { debounceSweep } from './sweep';

/**
 * --workspace DIR: the files under DIR (with --workspace-per-package, under the folder right below DIR that
 * holds the region's file: one package of a held-out split); the region's own file under the replay's
 * uri, so the index leaves its copy out (that copy holds the region's text).
 */
function workspaceOf(
  dir: string,
  file: string,
  uri: string,
): { root: string; files: { uri: string; text: string }[] } {
  let root = dir;
  const inside = path.relative(dir, file);
  if (values['workspace-per-package'] && !inside.startsWith('..') && inside.includes(path.sep)) {
    root = path.join(dir, inside.split(path.sep)[0]!);
  }
  // The files of the languages typed (--languages), as the index would hold a repository of them.
  const files = listFiles([root], languages).map((f) => ({
    uri: path.resolve(f) === path.resolve(file) ? uri : pathToFileURL(path.resolve(f)).href,
    text: fs.readFileSync(f, 'utf8'),
  }));
  return { root: pathToFileURL(path.resolve(root)).href, files };
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    workspace: { type: 'string' },
    'workspace-per-package': { type: 'boolean', default: false },
    'max-chars': { type: 'string', default: '3000' },
    'files-limit': { type: 'string', default: '15' },
    seed: { type: 'string', default: '1' },
    'max-lines': { type: 'string' },
    'debounce-ms': { type: 'string' },
    'abort-probes': { type: 'string', default: '8' },
    'debounce-sweep': { type: 'string' },
    'min-confidence': { type: 'string' },
    'key-interval-ms': { type: 'string', default: '120' },
    'cache-weight': { type: 'string' },
    'rebuild-at-line-ends': { type: 'boolean', default: false },
    'cache-beta': { type: 'string' },
    'cache-gate': { type: 'string' },
    'min-token-prob': { type: 'string' },
    modes: { type: 'string', default: 'static,state,adapted' },
    languages: { type: 'string' },
    'dump-suggestions': { type: 'string' },
    model: { type: 'string' },
  },
});

const log = (m: string): void => {
  process.stderr.write(`[replay] ${m}\n`);
};

// The languages typed, each turned on as a user would with `"<id>": true` in fastweights.enable.
const languages = values.languages?.split(',') ?? TRAINED_LANGUAGES;

const settings: CompletionSettings = {
  ...DEFAULT_SETTINGS,
  enable: { ...DEFAULT_SETTINGS.enable, ...Object.fromEntries(languages.map((l) => [l, true])) },
  maxLines: values['max-lines'] !== undefined ? Number(values['max-lines']) : DEFAULT_SETTINGS.maxLines,
  debounceMs:
    values['debounce-ms'] !== undefined ? Number(values['debounce-ms']) : DEFAULT_SETTINGS.debounceMs,
  minConfidence:
    values['min-confidence'] !== undefined
      ? Number(values['min-confidence'])
      : DEFAULT_SETTINGS.minConfidence,
  minTokenProb:
    values['min-token-prob'] !== undefined ? Number(values['min-token-prob']) : DEFAULT_SETTINGS.minTokenProb,
};

function chooseRegions(): Region[] {
  const maxChars = Number(values['max-chars']);
  const limit = Number(values['files-limit']);
  const random = seededRandom(Number(values.seed));
  const files = shuffled(listFiles(positionals, languages), random);
  const perFile = Math.max(80, Math.floor(maxChars / Math.max(1, limit)));
  const regions: Region[] = [];
  let total = 0;
  for (const file of files) {
    if (regions.length >= limit || total >= maxChars) break;
    const r = pickRegion(
      file,
      fs.readFileSync(file, 'utf8'),
      Math.min(perFile, maxChars - total),
      random,
      languages,
    );
    if (!r || r.text.trim().length === 0) continue;
    regions.push(r);
    total += r.text.length;
  }
  return regions;
}

function summary(t: Tally, stats: CompletionStats) {
  const baseline = t.chars - t.autoChars;
  const latency = summariseLatency(t.latencies);
  const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
  return {
    chars: t.chars,
    keystrokes_without: baseline,
    keystrokes_with: t.keys,
    keystrokes_saved_pct: round((100 * (baseline - t.keys)) / Math.max(1, baseline)),
    suggestions_shown: t.shown.size,
    shown_per_100_chars: round((100 * t.shown.size) / Math.max(1, t.chars)),
    acceptance_rate: round(t.accepted.size / Math.max(1, t.shown.size), 3),
    // Shown suggestions that, accepted whole, would leave the line less balanced (postprocess/balance.ts).
    unbalanced_shown_pct: round((100 * t.unbalanced.size) / Math.max(1, t.shown.size), 2),
    unbalanced_shown: t.unbalanced.size,
    accepts_full: t.accepts,
    accepts_word: t.wordAccepts,
    generations: t.generations,
    latency_ms: { p50: round(latency?.p50 ?? 0, 0), p95: round(latency?.p95 ?? 0, 0) },
    // Acceptance among the shown suggestions at least this confident (an estimate for a higher threshold:
    // hiding one changes what comes after it).
    confidence_curve: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((min) => {
      const kept = [...t.shown].filter((id) => (t.confidence.get(id) ?? 0) >= min);
      const accepted = kept.filter((id) => t.accepted.has(id)).length;
      return {
        min_confidence: min,
        shown: kept.length,
        accepted,
        keys_saved: kept.reduce((n, id) => n + (t.saved.get(id) ?? 0), 0),
        acceptance_rate: round(accepted / Math.max(1, kept.length), 3),
      };
    }),
    // Acceptance by the length a suggestion had when first shown (characters).
    by_length: acceptanceByLength(t),
    // Acceptance by whose text a suggestion is: the model's, or copied by the caches against the model.
    by_origin: acceptanceByOrigin(t),
    // What the extension's own statistics (the gain panel's numbers) say for the same run.
    stats: stats.session(),
  };
}

/** Starts long multi-line generations and cancels them: the worker must stop decoding and answer at once. */
async function abortProbe(client: ModelClient, regions: Region[], probes: number) {
  const times: number[] = [];
  let stopped = 0;
  for (let i = 0; i < probes && regions.length > 0; i++) {
    const r = regions[i % regions.length]!;
    const source = new CancellationSource();
    const pending = client.complete(`replay-probe:${i}`, r.before, 400, source.token, false, 40);
    await new Promise((resolve) => setTimeout(resolve, 30 + 10 * i));
    const t0 = performance.now();
    source.cancel();
    const c = await pending.catch(() => undefined);
    times.push(performance.now() - t0);
    if (c?.cancelled) stopped++;
  }
  const s = summariseLatency(times);
  return { probes: times.length, stopped_by_cancel: stopped, ms: { p50: s?.p50 ?? 0, p95: s?.p95 ?? 0 } };
}

async function main(): Promise<void> {
  if (positionals.length === 0) {
    console.error(
      'usage: npm run replay -- FILES_OR_FOLDERS... [--json] [--max-chars N] [--files-limit N] [--seed N]',
    );
    process.exit(2);
  }
  const t0 = performance.now();
  const regions = chooseRegions();
  const chars = regions.reduce((a, r) => a + r.text.length, 0);
  log(
    `${regions.length} regions, ${chars} characters, debounce ${settings.debounceMs} ms, max lines ${settings.maxLines}`,
  );
  const client = new ModelClient({
    modelDir: values.model ?? defaultModelDir(path.resolve(__dirname, '..')),
    provider: 'cpu',
    workerPath: path.join(__dirname, 'worker.js'),
  });
  await client.ready;
  const cacheParams: NgramCacheParams = {
    ...DEFAULT_NGRAM_PARAMS,
    ...(values['cache-weight'] !== undefined ? { weight: Number(values['cache-weight']) } : {}),
    ...(values['cache-beta'] !== undefined ? { beta: Number(values['cache-beta']) } : {}),
    ...(values['cache-gate'] !== undefined ? { gate: values['cache-gate'].split(',').map(Number) } : {}),
  };
  client.setFileCacheParams(cacheParams);
  if (values['debounce-sweep'] !== undefined) {
    const debounces = values['debounce-sweep'].split(',').map(Number);
    const interval = Number(values['key-interval-ms']);
    const rows = await debounceSweep(
      modelFromClient(() => client),
      regions,
      debounces,
      interval,
      seededRandom(7),
    );
    await client.dispose();
    if (values.json)
      console.log(JSON.stringify({ key_interval_ms: interval, regions: regions.length, rows }, null, 2));
    else {
      console.log(`typist: a key every ${interval} ms on average (0.5x-1.5x), ${regions.length} lines\n`);
      console.log(
        '| debounce ms | generations / key | aborted / key | pause -> suggestion p50 / p95 ms |\n|---|---|---|---|',
      );
      for (const r of rows)
        console.log(
          `| ${r.debounce_ms} | ${r.generations_per_keystroke} | ${r.aborted_per_keystroke} | ${r.pause_to_suggestion_ms.p50} / ${r.pause_to_suggestion_ms.p95} |`,
        );
    }
    return;
  }
  // A virtual clock for the debounce: counted in the latency, never waited for.
  let virtual = 0;
  const now = (): number => performance.now() + virtual;
  const sleep = async (ms: number): Promise<void> => {
    virtual += ms;
  };
  const tallies = {
    static: emptyTally(),
    state: emptyTally(),
    adapted: emptyTally(),
    workspace: emptyTally(),
  };
  const stats = {
    static: new CompletionStats(),
    state: new CompletionStats(),
    adapted: new CompletionStats(),
    workspace: new CompletionStats(),
  };
  const stateOnly: CompletionSettings = { ...settings, fileCache: false };
  const pipelines = {
    static: new CompletionPipeline({
      model: modelFromClient(() => client),
      settings: () => settings,
      stats: stats.static,
      adapt: false,
      sleep,
      now,
    }),
    state: new CompletionPipeline({
      model: modelFromClient(() => client),
      settings: () => stateOnly,
      stats: stats.state,
      adapt: true,
      sleep,
      now,
    }),
    adapted: new CompletionPipeline({
      model: modelFromClient(() => client),
      settings: () => ({ ...settings, fileCache: true, workspace: false }),
      stats: stats.adapted,
      adapt: true,
      sleep,
      now,
    }),
    // As adapted, with the workspace's index (--workspace DIR).
    workspace: new CompletionPipeline({
      model: modelFromClient(() => client),
      settings: () => ({ ...settings, fileCache: true, workspace: true }),
      stats: stats.workspace,
      adapt: true,
      sleep,
      now,
    }),
  };
  const modes = (['static', 'state', 'adapted', 'workspace'] as const).filter((m) =>
    m === 'workspace' ? values.workspace !== undefined : values.modes.split(',').includes(m),
  );
  for (const [i, region] of regions.entries()) {
    // The file's own path (its repository context reads imports from there), a query keeping regions apart.
    const uri = `${pathToFileURL(path.resolve(region.file)).href}?replay=${i}`;
    // The document as it is when the user starts: the file without the region (its line kept empty).
    const start = region.before + '\n' + region.after;
    client.documentChanged(uri, 1, () => start, 0);
    await client.whenIdle(uri);
    if (values.workspace) {
      const ws = workspaceOf(values.workspace, region.file, uri);
      await client.setWorkspace(ws.files, [ws.root]);
    }
    let version = 1;
    for (const mode of modes) {
      // Each run starts from the same document; with --rebuild-at-line-ends the adapted runs bring the
      // state (and cache) up to date each time a line is finished, as the extension does after a pause.
      if (version > 1) {
        client.documentChanged(uri, ++version, () => start, 0);
        await client.whenIdle(uri);
      }
      const sync =
        values['rebuild-at-line-ends'] && mode !== 'static'
          ? async (text: string): Promise<void> => {
              client.documentChanged(uri, ++version, () => text, 0);
              await client.whenIdle(uri);
            }
          : undefined;
      await typeRegion(pipelines[mode], region, uri, now, tallies[mode], sync);
    }
    client.documentClosed(uri);
    const s = summary(tallies.static, stats.static).keystrokes_saved_pct;
    const f = summary(tallies.state, stats.state).keystrokes_saved_pct;
    const a = summary(tallies.adapted, stats.adapted).keystrokes_saved_pct;
    const w = values.workspace
      ? ` workspace ${summary(tallies.workspace, stats.workspace).keystrokes_saved_pct}%`
      : '';
    log(
      `${i + 1}/${regions.length} ${region.file} (${region.text.length} chars): saved so far static ${s}% state ${f}% adapted ${a}%${w} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const abort = await abortProbe(client, regions, Number(values['abort-probes']));
  await client.dispose();
  const dump = values['dump-suggestions'];
  if (dump) {
    const lines = Object.entries(tallies).flatMap(([mode, t]) => suggestionRecords(t, mode));
    fs.writeFileSync(
      dump,
      `${JSON.stringify({ features: SHOW_FEATURES, languages })}\n${lines.join('\n')}\n`,
    );
  }
  const result = {
    scenario:
      'edit: retype a region of whole lines inside an existing file; state built from the file without the region',
    languages,
    files: regions.length,
    chars,
    seed: Number(values.seed),
    debounce_ms: settings.debounceMs,
    max_lines: settings.maxLines,
    min_confidence: settings.minConfidence,
    min_token_prob: settings.minTokenProb,
    file_cache: cacheParams,
    rebuild_at_line_ends: values['rebuild-at-line-ends'],
    static: summary(tallies.static, stats.static),
    state: summary(tallies.state, stats.state),
    adapted: summary(tallies.adapted, stats.adapted),
    ...(values.workspace !== undefined ? { workspace: summary(tallies.workspace, stats.workspace) } : {}),
    state_over_static: 0,
    adapted_over_static: 0,
    abort,
    wall_s: Math.round((performance.now() - t0) / 1000),
  };
  // (0 when a run was left out with --modes.)
  const ran = (m: string): boolean => modes.some((x) => x === m);
  const overStatic = (x: number): number =>
    ran('static') ? Math.round((100 * x) / Math.max(0.1, result.static.keystrokes_saved_pct)) / 100 : 0;
  result.state_over_static = overStatic(result.state.keystrokes_saved_pct);
  result.adapted_over_static = overStatic(result.adapted.keystrokes_saved_pct);
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const row = (name: string, f: (x: ReturnType<typeof summary>) => string | number): string =>
    `| ${name} | ${f(result.static)} | ${f(result.state)} | ${f(result.adapted)} |`;
  console.log(`Scenario: ${result.scenario}`);
  console.log(
    `${result.files} files, ${result.chars} characters, seed ${result.seed}, debounce ${result.debounce_ms} ms, max lines ${result.max_lines}\n`,
  );
  console.log('| metric | static | state only | adapted (state + cache) |\n|---|---|---|---|');
  console.log(
    row(
      'keystrokes saved',
      (x) => `${x.keystrokes_saved_pct}% (${x.keystrokes_with} of ${x.keystrokes_without})`,
    ),
  );
  console.log(row('suggestions shown per 100 chars', (x) => x.shown_per_100_chars));
  console.log(row('acceptance rate', (x) => `${(100 * x.acceptance_rate).toFixed(1)}%`));
  console.log(row('accepts (full / word)', (x) => `${x.accepts_full} / ${x.accepts_word}`));
  console.log(row('latency p50 / p95 (ms)', (x) => `${x.latency_ms.p50} / ${x.latency_ms.p95}`));
  console.log(
    `\nkeystrokes saved vs static: state only ${result.state_over_static}x, adapted ${result.adapted_over_static}x`,
  );
  console.log(
    `abort: ${abort.stopped_by_cancel} of ${abort.probes} generations stopped by cancel; cancel -> worker free p50 ${abort.ms.p50.toFixed(0)} ms, p95 ${abort.ms.p95.toFixed(0)} ms`,
  );
  console.log(`wall time ${result.wall_s} s`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
