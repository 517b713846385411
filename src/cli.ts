/**
 * fastweights: the command line on the same runtime as the extension.
 *   fastweights complete FILE --line N --column N [--no-adapt] [--json]
 *   fastweights eval PATH... [--json] [--per-file] [--max-tokens N] [--min-tokens N] [--lines N] [--seed N]
 *                            [--workspace DIR [--repository-weight W] [--repository-tokens N]]
 * Common: --model DIR, --provider auto|cuda|cpu, --threads N, --verbose.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  collectCodeFiles,
  completeLine,
  defaultModelDir,
  DEFAULT_NGRAM_PARAMS,
  DocumentState,
  EvalWorkspace,
  evaluateLines,
  evaluateText,
  FastWeightsRuntime,
  FileScore,
  GraphPrecision,
  ModelFolderError,
  ProviderChoice,
  summarise,
} from './runtime';

const USAGE = `Usage:
  fastweights complete FILE --line N --column N [--no-adapt] [--max-tokens N] [--json]
      Prints the model's suggestion for the rest of the line at the 1-based line and column.
  fastweights eval PATH... [--json] [--per-file] [--max-tokens N] [--min-tokens N] [--lines N] [--seed N]
      Bits per byte of code files (folders recursively): static, adapted (causal) and whole-file,
      each also mixed with the file's n-gram cache (the extension's weight and back-off);
      and line completion (exact match, edit similarity) on N seeded target lines per file
      (--lines, default 1; 0 skips it). --min-tokens skips shorter files.
      --workspace DIR adds adapted_workspace (file state + repository state + file cache + the index of
      DIR's code files) and fwl_workspace (file + repository state only): each scored file is left out of
      the index and of its repository state, made from its most related other files of DIR within
      --repository-tokens (default: the model folder's, else 16384), weighted by --repository-weight.
Options:
  --model DIR          model folder (default: the bundled models/fw-code-small)
  --provider P         auto | cuda | cpu (default auto: CUDA if it starts, else CPU)
  --threads N          onnxruntime threads per graph (default: onnxruntime's choice)
  --precision P        fp32 | int8 (default fp32; int8 runs the folder's quantized graphs, as the extension does)
  --verbose            log the provider and timings to stderr
  -h, --help           this text
Exit codes:
  0  done
  1  an unexpected error (--verbose prints its stack)
  2  bad usage (unknown command or option, missing or bad argument)
  3  the model folder is missing or incomplete
  4  a FILE or PATH cannot be read as text: missing, a folder where a file is needed, binary or not UTF-8`;

class UsageError extends Error {}
/** A file the command was given cannot be read as text (exit code 4). */
class InputError extends Error {}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Why `bytes` are not source text ('binary', 'not UTF-8'), or undefined when they are. */
export function notTextReason(bytes: Uint8Array): string | undefined {
  // A NUL byte never occurs in source code (git and editors spot binary content the same way).
  if (bytes.includes(0)) return 'is a binary file';
  try {
    UTF8.decode(bytes);
  } catch {
    return 'is not UTF-8 text';
  }
  return undefined;
}

/** The text of `file`, or an InputError that says in one line why it has none. */
function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    if (fs.statSync(file).isDirectory()) throw new InputError(`${file} is a folder, not a file`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new InputError(`${file}: no such file`);
    throw new InputError(`${file}: cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`);
  }
  const why = notTextReason(bytes);
  if (why) throw new InputError(`${file} ${why}`);
  return bytes.toString('utf8');
}

function packageRoot(): string {
  // out/cli.js -> package root
  return path.resolve(__dirname, '..');
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} needs an integer (got "${value}")`);
  return n;
}

/** Character offset of a 1-based line and column (columns count UTF-16 units, as editors do). */
export function offsetOf(text: string, line: number, column: number): number {
  if (line < 1 || column < 1) throw new UsageError('--line and --column are 1-based');
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) throw new UsageError(`line ${line} is past the end of the file`);
    offset = nl + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  const lineText = text.slice(offset, lineEnd).replace(/\r$/, '');
  if (column - 1 > lineText.length) {
    throw new UsageError(`column ${column} is past the end of line ${line} (${lineText.length} characters)`);
  }
  return offset + column - 1;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      line: { type: 'string' },
      column: { type: 'string' },
      'no-adapt': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'per-file': { type: 'boolean', default: false },
      'max-tokens': { type: 'string' },
      'min-tokens': { type: 'string' },
      lines: { type: 'string' },
      seed: { type: 'string' },
      workspace: { type: 'string' },
      'repository-weight': { type: 'string' },
      'repository-tokens': { type: 'string' },
      model: { type: 'string' },
      provider: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      precision: { type: 'string', default: 'fp32' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const provider = values.provider as ProviderChoice;
  if (!['auto', 'cuda', 'cpu'].includes(provider))
    throw new UsageError(`--provider must be auto, cuda or cpu`);
  const threads = intOption(values.threads, 'threads');
  const precision = values.precision as GraphPrecision;
  if (precision !== 'fp32' && precision !== 'int8') throw new UsageError('--precision must be fp32 or int8');
  const maxTokens = intOption(values['max-tokens'], 'max-tokens');
  const minTokens = intOption(values['min-tokens'], 'min-tokens') ?? 0;
  const linesPerFile = intOption(values.lines, 'lines') ?? 1;
  const seed = intOption(values.seed, 'seed') ?? 0;
  if (linesPerFile < 0) throw new UsageError('--lines must be 0 or more');
  const modelDir = values.model ? path.resolve(values.model) : defaultModelDir(packageRoot());
  const verbose = values.verbose;
  const log = (msg: string): void => {
    if (verbose) process.stderr.write(`fastweights: ${msg}\n`);
  };

  if (command !== 'complete' && command !== 'eval') throw new UsageError(`unknown command "${command}"`);
  if (command === 'complete') {
    if (rest.length !== 1) throw new UsageError('complete takes one FILE');
    if (values.line === undefined || values.column === undefined) {
      throw new UsageError('complete needs --line and --column');
    }
  } else if (rest.length === 0) {
    throw new UsageError('eval needs at least one PATH');
  }
  // Inputs are checked before the model loads: a wrong path fails at once, with one line.
  const completeText = command === 'complete' ? readTextFile(rest[0]!) : undefined;
  for (const p of command === 'eval' ? rest : []) {
    if (!fs.existsSync(p)) throw new InputError(`${p}: no such file or folder`);
    if (fs.statSync(p).isFile()) readTextFile(p);
  }
  const workspaceDir = values.workspace;
  if (workspaceDir !== undefined && !fs.statSync(workspaceDir, { throwIfNoEntry: false })?.isDirectory())
    throw new InputError(`${workspaceDir}: not a folder (--workspace)`);
  const repositoryWeight =
    values['repository-weight'] === undefined ? undefined : Number(values['repository-weight']);
  if (repositoryWeight !== undefined && !(repositoryWeight >= 0))
    throw new UsageError('--repository-weight must be a number >= 0');
  const repositoryTokens = intOption(values['repository-tokens'], 'repository-tokens');

  const rtOptions: {
    modelDir: string;
    provider: ProviderChoice;
    threads?: number;
    precision: GraphPrecision;
  } = {
    modelDir,
    provider,
    precision,
  };
  if (threads !== undefined) rtOptions.threads = threads;
  const rt = await FastWeightsRuntime.load(rtOptions);
  try {
    const info = rt.info;
    log(
      `model ${info.modelName} (${info.modelDir}) on ${info.provider.toUpperCase()}, loaded in ${info.loadMs.toFixed(0)} ms`,
    );
    if (info.fallbackReason) log(info.fallbackReason);

    if (command === 'complete') {
      const text = completeText!;
      const offset = offsetOf(text, intOption(values.line, 'line')!, intOption(values.column, 'column')!);
      const prefix = text.slice(0, offset);
      let state;
      let stateTokens = 0;
      let buildMs = 0;
      if (!values['no-adapt']) {
        const doc = new DocumentState(rt);
        await doc.rebuild(text, { priority: 'foreground' });
        stateTokens = doc.tokenCount;
        buildMs = doc.buildMs;
        state = doc.stateAt(doc.positionForPrefix(prefix));
      }
      const completeOptions: Parameters<typeof completeLine>[2] = {};
      if (state) completeOptions.state = state;
      if (maxTokens !== undefined) completeOptions.maxTokens = maxTokens;
      const c = await completeLine(rt, prefix, completeOptions);
      log(
        `state from ${stateTokens} tokens (${buildMs.toFixed(0)} ms); prompt ${c.promptTokens} tokens; ` +
          `${c.tokens} tokens in ${c.totalMs.toFixed(0)} ms (prefill ${c.prefillMs.toFixed(0)} ms); stop: ${c.stop}`,
      );
      if (values.json) {
        console.log(
          JSON.stringify({
            completion: c.text,
            tokens: c.tokens,
            prompt_tokens: c.promptTokens,
            stop: c.stop,
            adapted: !values['no-adapt'],
            state_tokens: stateTokens,
            state_build_ms: buildMs,
            prefill_ms: c.prefillMs,
            total_ms: c.totalMs,
            provider: info.provider,
            fallback_reason: info.fallbackReason ?? null,
          }),
        );
      } else {
        process.stdout.write(c.text + '\n');
      }
      return 0;
    }

    const files = collectCodeFiles(rest);
    if (files.length === 0) throw new UsageError('no code files found (.ts .tsx .js .jsx .mjs .cjs .py)');
    let workspace: EvalWorkspace | undefined;
    if (workspaceDir !== undefined) {
      const texts = new Map<string, string>();
      for (const f of collectCodeFiles([workspaceDir])) {
        try {
          texts.set(path.resolve(f), readTextFile(f));
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          log(`workspace: skipped ${e.message}`);
        }
      }
      workspace = EvalWorkspace.build(rt, path.resolve(workspaceDir), texts, {
        ...(repositoryWeight !== undefined ? { weight: repositoryWeight } : {}),
        ...(repositoryTokens !== undefined ? { maxTokens: repositoryTokens } : {}),
      });
      log(
        `workspace ${workspaceDir}: ${workspace.fileCount} files, ${workspace.index.tokenCount} tokens indexed; ` +
          `repository weight ${workspace.config.weight}, ${workspace.config.maxTokens} tokens`,
      );
    }
    const scores: FileScore[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readTextFile(file);
      } catch (e) {
        // Named files were checked above; one found in a folder that is not text is skipped, with a line.
        if (!(e instanceof InputError)) throw e;
        process.stderr.write(`fastweights: skipped ${e.message}\n`);
        continue;
      }
      if (minTokens > 0 && rt.tokenizer.encode(text).length < minTokens) continue;
      // The n-gram cache scores cost no model run: always reported, with the extension's weight and back-off.
      const evalOptions: Parameters<typeof evaluateText>[2] = {
        perToken: false,
        ngrams: DEFAULT_NGRAM_PARAMS,
      };
      if (maxTokens !== undefined) evalOptions.maxTokens = maxTokens;
      const ws = workspace && (await workspace.forFile(path.resolve(file)));
      if (ws) {
        const { index, params, exclude, repository } = ws;
        evalOptions.workspace = { index, params, ...(exclude ? { exclude } : {}) };
        evalOptions.repository = repository;
        log(`${file}: repository state from ${repository.files} files, ${repository.tokens} tokens`);
      }
      const s = await evaluateText(rt, text, evalOptions);
      s.file = file;
      if (linesPerFile > 0)
        s.lines = await evaluateLines(rt, text, {
          perFile: linesPerFile,
          seed,
          ...(ws ? { workspace: ws } : {}),
        });
      scores.push(s);
      log(
        `${file}: ${s.tokens} tokens, static ${(s.staticBits / Math.max(1, s.bytes)).toFixed(4)} ` +
          `adapted ${((s.adaptedBits ?? 0) / Math.max(1, s.bytes)).toFixed(4)} bits/byte (${s.ms.toFixed(0)} ms)` +
          (s.lines?.length ? `; ${s.lines.length} line(s)` : ''),
      );
    }
    if (scores.length === 0) throw new UsageError(`no file has ${minTokens} tokens or more`);
    const summary = summarise(rt, scores, values['per-file']);
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      const f = (x: number): string => x.toFixed(4);
      console.log(
        `files ${summary.files}, tokens ${summary.tokens}, bytes ${summary.bytes} (${summary.model}, ${summary.provider})`,
      );
      console.log(`static                 ${f(summary.static.bits_per_byte)} bits/byte`);
      console.log(
        `adapted (causal)       ${f(summary.adapted.bits_per_byte)} bits/byte  (${summary.gain.bits_per_byte_pct.toFixed(2)}% lower)`,
      );
      console.log(
        `adapted (whole file)   ${f(summary.adapted_whole_file.bits_per_byte)} bits/byte  (${summary.gain.whole_file_bits_per_byte_pct.toFixed(2)}% lower)`,
      );
      const st = summary.static.bits_per_byte;
      for (const [name, m] of [
        ['static + file cache', summary.ngram_cache],
        ['causal + file cache', summary.adapted_ngram_cache],
        ['whole file + cache', summary.adapted_whole_file_ngram_cache],
        ['file + repository', summary.fwl_workspace],
        ['workspace (all)', summary.adapted_workspace],
      ] as const) {
        const b = m?.bits_per_byte;
        if (b !== undefined)
          console.log(`${name.padEnd(23)}${f(b)} bits/byte  (${(((st - b) / st) * 100).toFixed(2)}% lower)`);
      }
      if (summary.lines) {
        const pct = (x: number | undefined): string => (x ?? 0).toFixed(2);
        console.log(`line completion, ${summary.lines.targets} targets: exact match / edit similarity`);
        for (const [name, m] of [
          ['static', summary.static],
          ['adapted (causal)', summary.adapted],
          ['adapted (whole file)', summary.adapted_whole_file],
          ['whole file + cache', summary.adapted_whole_file_ngram_cache ?? {}],
          ...(summary.adapted_workspace
            ? ([
                ['file + repository', summary.fwl_workspace ?? {}],
                ['workspace (all)', summary.adapted_workspace],
              ] as const)
            : []),
        ] as const) {
          console.log(`  ${name.padEnd(21)}${pct(m.line_exact_match)}% / ${pct(m.line_edit_similarity)}`);
        }
      }
      if (summary.per_file) {
        for (const p of summary.per_file) {
          console.log(
            `  ${p.file}: ${f(p.static_bits_per_byte)} -> ${f(p.adapted_bits_per_byte)} / ${f(p.adapted_whole_file_bits_per_byte)}`,
          );
        }
      }
    }
    return 0;
  } finally {
    await rt.dispose();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
        process.stderr.write(`fastweights: ${(err as Error).message}\n\n${USAGE}\n`);
        process.exit(2);
      }
      if (err instanceof ModelFolderError) {
        process.stderr.write(`fastweights: ${err.message}\n`);
        process.exit(3);
      }
      if (err instanceof InputError) {
        process.stderr.write(`fastweights: ${err.message}\n`);
        process.exit(4);
      }
      // One line unless asked for the stack.
      const verbose = process.argv.includes('--verbose');
      const message =
        err instanceof Error ? (verbose ? (err.stack ?? err.message) : err.message) : String(err);
      process.stderr.write(`fastweights: ${verbose ? message : message.split('\n')[0]}\n`);
      process.exit(1);
    },
  );
}
