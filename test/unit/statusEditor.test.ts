import * as assert from 'node:assert/strict';
import { StatusEditor } from '../../src/statusEditor';

const editor = (scheme: string, name: string) => ({ name, document: { uri: { scheme } } });

describe('status bar: the editor it speaks for', () => {
  it('keeps the last text editor while a panel (the Output) has focus', () => {
    const status = new StatusEditor<ReturnType<typeof editor>>();
    const code = editor('file', 'app.ts');
    const output = editor('output', 'FastWeights');
    assert.equal(status.pick(code, [code]), code);
    assert.equal(status.pick(output, [code, output]), code, "the Output panel's own editor");
    assert.equal(status.pick(undefined, [code]), code, 'no active text editor at all');
    const other = editor('untitled', 'Untitled-1');
    assert.equal(status.pick(other, [code, other]), other, 'another text editor takes over');
    assert.equal(status.pick(undefined, [code, other]), other);
  });

  it('forgets the last editor once it is no longer on screen', () => {
    const status = new StatusEditor<ReturnType<typeof editor>>();
    const code = editor('file', 'app.ts');
    status.pick(code, [code]);
    assert.equal(status.pick(undefined, []), undefined, 'all editors closed');
    assert.equal(status.pick(undefined, [code]), undefined, 'not brought back by chance');
  });
});
