import * as assert from 'node:assert/strict';
import { GitignoreRules } from '../../src/gitignoreRules';

describe('workspace index: .gitignore rules', () => {
  it('leaves out what the top-level .gitignore lists, folders included', () => {
    const rules = new GitignoreRules([{ dir: '', text: '# build output\ndist/\n*.gen.ts\n/coverage\n' }]);
    assert.equal(rules.ignores('dist/index.js'), true);
    assert.equal(rules.ignores('packages/a/dist/index.js'), true, 'a folder pattern matches at any depth');
    assert.equal(rules.ignores('src/schema.gen.ts'), true);
    assert.equal(rules.ignores('coverage/lcov.js'), true);
    assert.equal(rules.ignores('src/coverage/report.ts'), false, 'a leading slash anchors to the top');
    assert.equal(rules.ignores('src/index.ts'), false);
  });

  it('applies a nested .gitignore below its folder only, and a deeper rule wins', () => {
    const rules = new GitignoreRules([
      { dir: 'packages/web', text: 'generated/\n!keep.gen.ts\n' },
      { dir: '', text: '*.gen.ts\n' },
    ]);
    assert.equal(rules.size, 2);
    assert.equal(rules.ignores('packages/web/generated/api.ts'), true);
    assert.equal(rules.ignores('packages/cli/generated/api.ts'), false, 'not below the nested file');
    assert.equal(rules.ignores('packages/web/src/types.gen.ts'), true, 'the top-level rule reaches down');
    assert.equal(rules.ignores('packages/web/src/keep.gen.ts'), false, 'the deeper negation wins');
    assert.equal(rules.ignores('src/keep.gen.ts'), true, 'the negation is not above its folder');
  });

  it('keeps everything when there are no rules', () => {
    assert.equal(new GitignoreRules([]).ignores('anything/at/all.ts'), false);
  });
});
