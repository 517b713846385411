import * as assert from 'node:assert/strict';
import { SuffixIndex } from '../../src/runtime/suffixIndex';
import {
  DEFAULT_WORKSPACE_PARAMS,
  mixWorkspaceBits,
  workspaceMatches,
  workspaceWeight,
} from '../../src/runtime/workspaceNgrams';

describe('workspace n-grams beside the model', () => {
  it('predicts from what followed in the other files, its own file left out', () => {
    const other = [5, 6, 7, 8, 5, 6, 7, 9];
    const file = [1, 5, 6, 7, 8];
    const index = SuffixIndex.build([other, file]);
    const m = workspaceMatches(index, file, 32, index.documentSpan(1));
    // Before the last token (8), "5 6 7" was followed by 8 once and 9 once in the other file.
    assert.equal(m.length[4], 3);
    assert.equal(m.p[4], 0.5);
    assert.equal(m.top[4], 0.5);
    assert.equal(m.length[1], 0, 'nothing followed "1" outside the file itself');
    assert.equal(m.p[0], 0, 'the first token has no context');
  });

  it('mixes (1 - w) p_model + w p_workspace, and leaves the model alone where nothing matched', () => {
    const index = SuffixIndex.build([
      [1, 2, 3, 1, 2, 3],
      [9, 1, 2, 3],
    ]);
    const file = [9, 1, 2, 3];
    const m = workspaceMatches(index, file, 32, index.documentSpan(1));
    const bits = Float64Array.from([3, 4, 5, 6]);
    const params = DEFAULT_WORKSPACE_PARAMS;
    let want = 0;
    for (let j = 0; j < file.length; j++) {
      const w = workspaceWeight(params, m.length[j]!, m.total[j]!, m.top[j]!);
      want += -Math.log2((1 - w) * 2 ** -bits[j]! + w * m.p[j]!);
    }
    assert.ok(Math.abs(mixWorkspaceBits(bits, m, params) - want) < 1e-9);
    assert.equal(workspaceWeight(params, 0, 0, 0), 0);
    assert.ok(mixWorkspaceBits(bits, m, params) < 3 + 4 + 5 + 6, 'sure repeats lower the bits');
  });
});
