import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
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
});
