import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import {
  editSimilarity,
  fnv1a32,
  lineExactMatch,
  mulberry32,
  sampleLineTargets,
} from '../../src/runtime/evaluate';
import { FIXTURES, ROOT, modelDir } from './helpers';

const CLI = path.join(ROOT, 'out', 'cli.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FASTWEIGHTS_MODEL_DIR: modelDir() },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fastweights CLI', () => {
  it('eval --json prints one object with the documented keys', () => {
    const r = cli(['eval', '--json', path.join(FIXTURES, 'sample.ts'), path.join(FIXTURES, 'sample.py')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & {
      static: { bits_per_byte: number };
      adapted: { bits_per_byte: number };
      adapted_whole_file: { bits_per_byte: number };
      gain: { bits_per_byte_pct: number };
    };
    assert.equal(out['files'], 2);
    assert.ok(typeof out['tokens'] === 'number' && (out['tokens'] as number) > 100);
    assert.ok(typeof out['bytes'] === 'number' && (out['bytes'] as number) > 100);
    for (const key of ['static', 'adapted', 'adapted_whole_file'] as const) {
      assert.ok(Number.isFinite(out[key].bits_per_byte) && out[key].bits_per_byte > 0, key);
    }
    assert.ok(Number.isFinite(out.gain.bits_per_byte_pct));
    const expectPct =
      ((out.static.bits_per_byte - out.adapted.bits_per_byte) / out.static.bits_per_byte) * 100;
    assert.ok(Math.abs(out.gain.bits_per_byte_pct - expectPct) < 1e-9);
  });

  it('eval --json reports line completion for the static and whole-file states', () => {
    const r = cli(['eval', '--json', '--lines', '1', path.join(FIXTURES, 'sample.py')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, number>>;
    assert.equal(out['lines']!['targets'], 1);
    for (const mode of ['static', 'adapted', 'adapted_whole_file']) {
      const em = out[mode]!['line_exact_match']!;
      const es = out[mode]!['line_edit_similarity']!;
      assert.ok(em === 0 || em === 100, `${mode} exact match of one target`);
      assert.ok(es >= 0 && es <= 100, `${mode} edit similarity`);
    }
  });

  it('eval --workspace adds the workspace modes, bits and lines, with the scored file left out', () => {
    const args = [
      'eval',
      '--json',
      '--lines',
      '1',
      '--workspace',
      FIXTURES,
      path.join(FIXTURES, 'sample.ts'),
    ];
    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, number>>;
    const keys = {
      adapted_workspace: ['bits_per_byte', 'line_exact_match', 'line_edit_similarity'],
      fwl_workspace: ['bits_per_byte', 'line_exact_match'],
    };
    for (const [mode, names] of Object.entries(keys)) {
      for (const name of names) assert.ok(Number.isFinite(out[mode]?.[name]), `${mode}.${name}`);
    }
    // The only other file is Python: with sample.ts left out, the index cannot copy it.
    const cache = out['adapted_whole_file_ngram_cache']!['bits_per_byte']!;
    assert.ok(out['adapted_workspace']!['bits_per_byte']! > 0.8 * cache, JSON.stringify(out));
    const missing = cli(['eval', '--workspace', path.join(FIXTURES, 'nothing-here'), FIXTURES]);
    assert.equal(missing.code, 4, missing.stderr);
  });

  it('eval walks folders and prints a table without --json', () => {
    const r = cli(['eval', FIXTURES]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /static\s+\d+\.\d+ bits\/byte/);
    assert.match(r.stdout, /adapted \(causal\)/);
  });

  it('complete prints one line for a 1-based line and column', () => {
    // Line 8 is "  return { x: a.x + b.x, y: a.y + b.y };"; complete after "  return ".
    const r = cli(['complete', path.join(FIXTURES, 'sample.ts'), '--line', '8', '--column', '10']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').length, 2, 'one line and its newline');
    const j = cli([
      'complete',
      path.join(FIXTURES, 'sample.ts'),
      '--line',
      '8',
      '--column',
      '10',
      '--no-adapt',
      '--json',
    ]);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { completion: string; adapted: boolean; provider: string };
    assert.equal(out.adapted, false);
    assert.equal(typeof out.completion, 'string');
    assert.ok(!out.completion.includes('\n'));
  });

  it('rejects bad usage with exit code 2 and a bad model folder with 3', () => {
    assert.equal(cli(['complete', path.join(FIXTURES, 'sample.ts')]).code, 2);
    assert.equal(
      cli(['complete', path.join(FIXTURES, 'sample.ts'), '--line', '999', '--column', '1']).code,
      2,
    );
    assert.equal(cli(['frobnicate']).code, 2);
    const bad = cli(['eval', FIXTURES, '--model', '/nonexistent/model']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /does not exist/);
  });

  it('says in one line why a file cannot be read, with exit code 4 (missing, folder, binary, not UTF-8)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-cli-'));
    try {
      const binary = path.join(dir, 'blob.ts');
      fs.writeFileSync(binary, Buffer.from([0x63, 0x6f, 0x00, 0x01, 0x02, 0x0a]));
      const latin1 = path.join(dir, 'latin1.py');
      fs.writeFileSync(latin1, Buffer.from('s = "caf\xe9"\n', 'latin1'));
      const missing = path.join(dir, 'missing.ts');
      const cases: [string[], RegExp][] = [
        [['complete', missing, '--line', '1', '--column', '1'], /missing\.ts: no such file/],
        [['complete', dir, '--line', '1', '--column', '1'], /is a folder/],
        [['complete', binary, '--line', '1', '--column', '1'], /blob\.ts is a binary file/],
        [['complete', latin1, '--line', '1', '--column', '1'], /latin1\.py is not UTF-8 text/],
        [['eval', missing], /missing\.ts: no such file or folder/],
        [['eval', binary], /blob\.ts is a binary file/],
        [['eval', latin1], /latin1\.py is not UTF-8 text/],
      ];
      for (const [args, message] of cases) {
        const r = cli(args);
        assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.equal(r.stdout, '');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help lists the exit codes', () => {
    const r = cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Exit codes:/);
    for (const code of ['0', '1', '2', '3', '4']) assert.match(r.stdout, new RegExp(`^  ${code}  \\S`, 'm'));
  });

  it('line targets, generator and metrics match training/line_completion.py', () => {
    // Values printed by the Python module for the same inputs: both sides must pick the same cursors.
    assert.equal(fnv1a32(Buffer.from('hello')), 1335831723);
    const rng = mulberry32(1335831723);
    for (const want of [0.6311965801287442, 0.7983490515034646, 0.30862852558493614]) {
      assert.ok(Math.abs(rng() - want) < 1e-15);
    }
    const ts = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
    const py = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
    assert.deepEqual(sampleLineTargets(ts, 3, 0), [483, 601, 628]);
    assert.deepEqual(sampleLineTargets(ts, 2, 7), [249, 574]);
    assert.deepEqual(sampleLineTargets(py, 3, 0), [36, 82, 176]);
    assert.deepEqual(sampleLineTargets(py, 2, 7), [62, 225]);
    assert.equal(editSimilarity(' foo(bar) ', 'foo(baz)'), 87.5);
    assert.ok(lineExactMatch('a  b', 'a b '));
    assert.ok(!lineExactMatch('a b', 'a c'));
  });
});
