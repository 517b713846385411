// Which languages are served (issue 26): the trained ones under "*", any other only when
// fastweights.enable names it; and what the editor says about a language that is off.
import * as assert from 'node:assert/strict';
import { languageOffNotice, languageSupport, TRAINED_LANGUAGES } from '../../src/completion/languages';
import { DEFAULT_SETTINGS, isEnabledFor } from '../../src/completion/settings';
import { decideTrigger } from '../../src/completion/trigger';

const DEFAULT_ENABLE = DEFAULT_SETTINGS.enable;

describe('languages served', () => {
  it('serves the five trained language ids under the default {"*": true}, and only them', () => {
    assert.deepEqual([...TRAINED_LANGUAGES].sort(), [
      'javascript',
      'javascriptreact',
      'python',
      'typescript',
      'typescriptreact',
    ]);
    for (const id of TRAINED_LANGUAGES) {
      assert.deepEqual(languageSupport(id, DEFAULT_ENABLE), { on: true, kind: 'trained', reason: 'on' }, id);
      assert.equal(languageOffNotice(id, languageSupport(id, DEFAULT_ENABLE)), undefined, id);
    }
    const ids = [...TRAINED_LANGUAGES, 'go', 'rust', 'java', 'markdown', 'plaintext'];
    // languageSupport is what the editor adapter reads, isEnabledFor what the pipeline and the menu read.
    assert.deepEqual(
      ids.filter((id) => languageSupport(id, DEFAULT_ENABLE).on),
      [...TRAINED_LANGUAGES],
    );
    assert.deepEqual(
      ids.filter((id) => isEnabledFor(DEFAULT_ENABLE, id)),
      [...TRAINED_LANGUAGES],
    );
  });

  it('leaves go off under {"*": true}: "*" does not turn on a language the model was not trained on', () => {
    const go = languageSupport('go', { '*': true });
    assert.deepEqual(go, {
      on: false,
      kind: 'not-trained',
      reason: 'not served by default (enable with "go": true)',
    });
    // The pipeline and the per-language toggle read the same rule.
    assert.equal(isEnabledFor({ '*': true }, 'go'), false);
    assert.equal(decideTrigger(DEFAULT_SETTINGS, 'go', 'manual'), 'off');
    assert.equal(isEnabledFor({}, 'rust'), false, 'nor does an empty map');
  });

  it('serves go once fastweights.enable names it: {"*": true, "go": true}', () => {
    const enable = { '*': true, go: true };
    assert.deepEqual(languageSupport('go', enable), { on: true, kind: 'named', reason: 'on' });
    assert.equal(decideTrigger({ ...DEFAULT_SETTINGS, enable }, 'go', 'automatic'), 'go');
    assert.equal(isEnabledFor({ '*': false, go: true }, 'go'), true, 'its own entry wins over "*": false');
    assert.equal(isEnabledFor(enable, 'rust'), false, 'naming go turns on go only');
  });

  it('turns python off under {"*": true, "python": false}, and says it is the setting', () => {
    assert.deepEqual(languageSupport('python', { '*': true, python: false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for python in fastweights.enable',
    });
    assert.deepEqual(languageSupport('go', { '*': true, go: false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for go in fastweights.enable',
    });
    assert.deepEqual(languageSupport('typescript', { '*': false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for typescript by "*": false in fastweights.enable',
    });
  });

  it('tells the user why a language is off and how to turn it on', () => {
    const go = languageOffNotice('go', languageSupport('go', DEFAULT_ENABLE));
    assert.ok(go);
    assert.equal(go.button, 'Enable for go');
    assert.match(go.message, /not trained on go yet/);
    assert.match(go.message, /"go": true to fastweights\.enable/);
    assert.ok(
      go.tooltip.startsWith(
        'FastWeights: not trained on go yet; enable it with "go": true in fastweights.enable',
      ),
      go.tooltip,
    );
    // The host tests read "off for this editor" for every editor FastWeights leaves alone.
    assert.match(go.tooltip, /off for this editor/);

    const python = languageOffNotice('python', languageSupport('python', { '*': true, python: false }));
    assert.ok(python);
    assert.equal(python.button, 'Turn On for python');
    assert.match(python.message, /turned off for python in fastweights\.enable/);
    assert.doesNotMatch(python.message, /not trained/);
  });
});
