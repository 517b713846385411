import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FastWeightState } from '../../src/runtime/fastWeights';
import { evaluateText } from '../../src/runtime/evaluate';
import { DEFAULT_NGRAM_PARAMS } from '../../src/runtime/fileNgrams';
import { folderDistance, RepositoryGraph } from '../../src/runtime/relatedFiles';
import { RepositoryContext } from '../../src/runtime/repositoryContext';
import { RepositoryStates } from '../../src/runtime/repositoryState';
import { EvalWorkspace } from '../../src/runtime/workspaceEval';
import { FIXTURES, ROOT, runtime, tempDir } from './helpers';

// The fixture of training/tests/test_repo_sequences.py, so that both sides are held to the same rule.
const TS: Record<string, string> = {
  'src/index.ts': "export * from './store'\nexport { helper } from './util/helper.js'\n",
  'src/store.ts': "import { helper } from './util/helper'\nimport type { T } from '../types'\n",
  'src/util/helper.ts': 'export const helper = 1\n',
  'src/util/other.ts': 'export const other = 2\n',
  'src/view/index.tsx': "import { store } from '../store'\n",
  'types.ts': 'export type T = number\n',
  'test/store.test.ts': "import { store } from '../src/store'\nconst x = require('./fixture')\n",
  'pkg/__init__.py': '',
  'pkg/lex.py': 'import pkg.sub.util\n',
  'pkg/sub/yacc.py': 'from ..lex import Lexer\nfrom . import util\nfrom .missing import x\n',
  'pkg/sub/util.py': 'from pkg.lex import Lexer\n',
};

function relativeDiff(a: FastWeightState, b: FastWeightState): number {
  return a.clone().addScaled(b, -1).norm() / Math.max(b.norm(), 1e-30);
}

describe('repository context and state', () => {
  it('orders related files as training/repo_sequences.py does', () => {
    const graph = new RepositoryGraph(new Map(Object.entries(TS)));
    assert.deepEqual(graph.importsOf('src/index.ts'), ['src/store.ts', 'src/util/helper.ts']);
    assert.deepEqual(graph.importsOf('pkg/sub/yacc.py'), ['pkg/lex.py', 'pkg/sub/util.py']);
    const related = graph.related('src/store.ts');
    assert.deepEqual(related.slice(0, 2), ['src/util/helper.ts', 'types.ts']);
    assert.deepEqual(related.slice(2, 5), ['src/index.ts', 'src/view/index.tsx', 'test/store.test.ts']);
    assert.equal(folderDistance('x.ts', 'a/b/y.ts'), 2);
    // Every target, against the Python rule itself.
    const script = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'training'))})`,
      'from repo_sequences import Package',
      'files = json.load(sys.stdin)',
      'pkg = Package(files)',
      'print(json.dumps({p: pkg.related(p) for p in files}))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(TS), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const python = JSON.parse(r.stdout) as Record<string, string[]>;
    for (const p of Object.keys(TS)) assert.deepEqual(graph.related(p), python[p], p);
  });

  it("sums a file's contributions exactly as one pass would, cached by content, within the budget", async () => {
    const rt = await runtime();
    const text = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8').repeat(3);
    const ids = rt.tokenizer.encode(text);
    assert.ok(ids.length > 300, 'more than one slice');
    const all = [rt.config.bos_token_id, ...ids];
    const { hidden } = await rt.hiddenOf(all);
    const d = rt.config.d_model;
    const n = ids.length;
    const direct = await rt.contribution(
      hidden.subarray(0, n * d),
      all.slice(1),
      new Float32Array(n).fill(1),
    );
    const states = new RepositoryStates(rt, { priority: 'foreground' });
    const sum = await states.fileSum(text);
    assert.equal(sum.tokens, n);
    assert.ok(relativeDiff(sum.sum, direct) < 1e-3, `${relativeDiff(sum.sum, direct)}`);
    const other = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
    const both = await states.stateOf([text, other, text], n + 10_000);
    assert.equal(states.fileCount, 2, 'the repeated text is computed once');
    assert.equal(both.files, 3);
    // Scaled to one file's decayed mass: the mean contribution times 1 / (1 - lambda).
    const otherSum = await states.fileSum(other);
    const expected = sum.sum
      .clone()
      .scale(2)
      .addScaled(otherSum.sum, 1)
      .scale(1 / (1 - rt.config.fwl.decay) / (2 * n + otherSum.tokens));
    assert.ok(relativeDiff(both.state, expected) < 1e-5);
    const fits = await states.stateOf([text, other], otherSum.tokens);
    assert.equal(fits.files, 1, 'a file larger than what is left of the budget is skipped');
    assert.equal(fits.tokens, otherSum.tokens);
  });

  it('leaves the scored file out of the index and of its repository state', async () => {
    const rt = await runtime();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-ws-'));
    const scored = path.join(dir, 'src', 'sample.ts');
    fs.mkdirSync(path.dirname(scored));
    const text = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
    const other = fs.readFileSync(path.join(FIXTURES, 'sample.py'), 'utf8');
    const files = new Map([
      [scored, text],
      [path.join(dir, 'tools.py'), other],
    ]);
    const ws = EvalWorkspace.build(rt, dir, files, { weight: 1 });
    const use = await ws.forFile(scored);
    assert.ok(use.exclude, 'the scored file is in the index: its span is left out');
    assert.equal(use.repository.files, 1);
    assert.equal(use.repository.tokens, rt.tokenizer.encode(other).length);
    const score = async (exclude: boolean): Promise<number> => {
      const s = await evaluateText(rt, text, {
        perToken: false,
        ngrams: DEFAULT_NGRAM_PARAMS,
        workspace: {
          index: use.index,
          params: use.params,
          ...(exclude && use.exclude ? { exclude: use.exclude } : {}),
        },
        repository: use.repository,
      });
      return s.workspaceBits!;
    };
    const left = await score(true);
    const copied = await score(false);
    // With its own copy in the index every token would be predicted from it: far fewer bits. Left out,
    // the workspace holds only an unrelated Python file.
    assert.ok(copied < 0.5 * left, `with the file in the index ${copied}, left out ${left}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps each document's repository state for the current files only, made from the others", async () => {
    const rt = await runtime();
    const text = fs.readFileSync(path.join(FIXTURES, 'sample.ts'), 'utf8');
    const files = [
      { uri: 'file:///w/one/src/a.ts', text: "import { b } from './b';\n" + text },
      { uri: 'file:///w/one/src/b.ts', text: text.replace(/area/g, 'b') },
      { uri: 'file:///w/two/c.ts', text: 'export const c = 1;\n' },
    ];
    const repo = new RepositoryContext(rt, { weight: 0.5 });
    repo.setFiles(files, ['file:///w/one', 'file:///w/two']);
    assert.equal(repo.stateFor(files[0]!.uri), undefined, 'nothing before it is prepared');
    await repo.prepare(files[0]!.uri);
    const ready = repo.stateFor(files[0]!.uri)!;
    assert.deepEqual(ready.files, [files[1]!.uri, files[2]!.uri], 'imported first, never itself');
    const states = new RepositoryStates(rt);
    const expected = (await states.stateOf([files[1]!.text, files[2]!.text], Infinity)).state.scale(0.5);
    // (int8 rows per file in the editor: a rounding of each file's sum.)
    assert.ok(relativeDiff(ready.state, expected) < 0.02, `${relativeDiff(ready.state, expected)}`);
    repo.setFiles(files.slice(1), ['file:///w/one', 'file:///w/two']);
    assert.equal(repo.stateFor(files[0]!.uri), undefined, 'a new list of files drops the states');
    const off = new RepositoryContext(rt, { weight: 0 });
    off.setFiles(files, []);
    await off.prepare(files[0]!.uri);
    assert.equal(off.stateFor(files[0]!.uri), undefined, 'weight 0: no repository state');
  });

  it('scores a file with its repository state as training/repository.py does in PyTorch', async function () {
    this.timeout(120_000);
    const rt = await runtime();
    const dir = tempDir('fw-repo-parity-');
    fs.mkdirSync(path.join(dir, 'src'));
    const target = path.join(dir, 'src', 'app.ts');
    fs.copyFileSync(path.join(FIXTURES, 'sample.ts'), target);
    fs.copyFileSync(path.join(FIXTURES, 'sample.py'), path.join(dir, 'tools.py'));
    const util = "import { area } from './app';\nexport const twice = (r: number) => 2 * area(r);\n";
    fs.writeFileSync(path.join(dir, 'src', 'util.ts'), util);
    const python = spawnSync(
      path.join(ROOT, '.venv', 'bin', 'python'),
      [path.join(ROOT, 'training', 'repository.py'), '--target', target, '--workspace', dir],
      { encoding: 'utf8' },
    );
    assert.equal(python.status, 0, python.stderr);
    const py = JSON.parse(python.stdout) as {
      bits_per_byte: Record<string, number>;
      repository_files: number;
    };
    const texts = new Map(
      ['src/app.ts', 'src/util.ts', 'tools.py'].map((f) => [
        path.join(dir, f),
        fs.readFileSync(path.join(dir, f), 'utf8'),
      ]),
    );
    const ws = EvalWorkspace.build(rt, dir, texts, { weight: 1 });
    const use = await ws.forFile(target);
    assert.equal(use.repository.files, py.repository_files);
    const s = await evaluateText(rt, fs.readFileSync(target, 'utf8'), {
      perToken: false,
      repository: use.repository,
    });
    const rel = (a: number, b: number): number => Math.abs(a - b) / b;
    const ts = { whole: s.wholeFileBits! / s.bytes, repo: s.repositoryBits! / s.bytes };
    // Measured 1e-6 apart (fp32 graphs against PyTorch); the bound is 1e-3.
    assert.ok(rel(ts.whole, py.bits_per_byte['adapted_whole_file']!) < 1e-3, JSON.stringify({ ts, py }));
    assert.ok(rel(ts.repo, py.bits_per_byte['fwl_workspace']!) < 1e-3, JSON.stringify({ ts, py }));
    assert.ok(ts.repo !== ts.whole, 'the repository state changes the scores');
  });
});
