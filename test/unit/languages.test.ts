// Which languages are served (issue 26): the trained ones and those measured at the acceptance bar under
// "*", any other only when fastweights.enable names it; and what the editor says about a language that is off.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ACCEPTANCE_BAR,
  DEFAULT_LANGUAGES,
  languageOffNotice,
  languageSupport,
  MEASURED_LANGUAGES,
  TRAINED_LANGUAGES,
} from '../../src/completion/languages';
import { DEFAULT_SETTINGS, isEnabledFor } from '../../src/completion/settings';
import { decideTrigger } from '../../src/completion/trigger';
import { ROOT } from './helpers';

const DEFAULT_ENABLE = DEFAULT_SETTINGS.enable;
const measuredAtBar = Object.keys(MEASURED_LANGUAGES).filter(
  (id) => MEASURED_LANGUAGES[id]!.acceptance >= ACCEPTANCE_BAR,
);
const measuredBelowBar = Object.keys(MEASURED_LANGUAGES).filter((id) => !measuredAtBar.includes(id));

describe('languages served', () => {
  it('serves the five trained ids and the languages measured at the bar under the default {"*": true}', () => {
    assert.deepEqual([...TRAINED_LANGUAGES].sort(), [
      'javascript',
      'javascriptreact',
      'python',
      'typescript',
      'typescriptreact',
    ]);
    assert.deepEqual([...DEFAULT_LANGUAGES].sort(), [...TRAINED_LANGUAGES, ...measuredAtBar].sort());
    for (const id of TRAINED_LANGUAGES) {
      assert.deepEqual(languageSupport(id, DEFAULT_ENABLE), { on: true, kind: 'trained', reason: 'on' }, id);
      assert.equal(languageOffNotice(id, languageSupport(id, DEFAULT_ENABLE)), undefined, id);
    }
    for (const id of measuredAtBar) {
      assert.deepEqual(languageSupport(id, DEFAULT_ENABLE), { on: true, kind: 'measured', reason: 'on' }, id);
    }
    const ids = [...TRAINED_LANGUAGES, ...Object.keys(MEASURED_LANGUAGES), 'lua', 'plaintext'];
    // languageSupport is what the editor adapter reads, isEnabledFor what the pipeline and the menu read.
    assert.deepEqual(
      ids.filter((id) => languageSupport(id, DEFAULT_ENABLE).on),
      [...DEFAULT_LANGUAGES],
    );
    assert.deepEqual(
      ids.filter((id) => isEnabledFor(DEFAULT_ENABLE, id)),
      [...DEFAULT_LANGUAGES],
    );
  });

  it('keeps the measurements in range and every language below the bar off', () => {
    for (const [id, m] of Object.entries(MEASURED_LANGUAGES)) {
      assert.ok(m.acceptance > 0 && m.acceptance < 1, id);
      assert.ok(m.keysSaved > 0 && m.keysSaved < 100 && m.staticKeysSaved < 100, id);
    }
    for (const id of measuredBelowBar) {
      const support = languageSupport(id, { '*': true });
      assert.equal(support.kind, 'not-served', id);
      const notice = languageOffNotice(id, support)!;
      assert.match(notice.message, new RegExp(`${Math.round(MEASURED_LANGUAGES[id]!.acceptance * 100)}%`));
      assert.match(notice.message, /below the 35%/);
    }
  });

  it('leaves lua off under {"*": true}: "*" does not turn on a language the model does not serve', () => {
    const lua = languageSupport('lua', { '*': true });
    assert.deepEqual(lua, {
      on: false,
      kind: 'not-served',
      reason: 'not served by default (enable with "lua": true)',
    });
    // The pipeline and the per-language toggle read the same rule.
    assert.equal(isEnabledFor({ '*': true }, 'lua'), false);
    assert.equal(decideTrigger(DEFAULT_SETTINGS, 'lua', 'manual'), 'off');
    assert.equal(isEnabledFor({}, 'haskell'), false, 'nor does an empty map');
  });

  it('serves lua once fastweights.enable names it: {"*": true, "lua": true}', () => {
    const enable = { '*': true, lua: true };
    assert.deepEqual(languageSupport('lua', enable), { on: true, kind: 'named', reason: 'on' });
    assert.equal(decideTrigger({ ...DEFAULT_SETTINGS, enable }, 'lua', 'automatic'), 'go');
    assert.equal(isEnabledFor({ '*': false, lua: true }, 'lua'), true, 'its own entry wins over "*": false');
    assert.equal(isEnabledFor(enable, 'haskell'), false, 'naming lua turns on lua only');
  });

  it('turns python off under {"*": true, "python": false}, and says it is the setting', () => {
    assert.deepEqual(languageSupport('python', { '*': true, python: false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for python in fastweights.enable',
    });
    assert.deepEqual(languageSupport('lua', { '*': true, lua: false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for lua in fastweights.enable',
    });
    assert.deepEqual(languageSupport('typescript', { '*': false }), {
      on: false,
      kind: 'turned-off',
      reason: 'turned off for typescript by "*": false in fastweights.enable',
    });
    for (const id of measuredAtBar) {
      assert.equal(languageSupport(id, { '*': false }).on, false, `"*": false turns ${id} off too`);
    }
  });

  it('tells the user why a language is off and how to turn it on', () => {
    const lua = languageOffNotice('lua', languageSupport('lua', DEFAULT_ENABLE));
    assert.ok(lua);
    assert.equal(lua.button, 'Enable for lua');
    assert.match(lua.message, /does not serve lua yet: the model was neither trained nor measured on lua/);
    assert.match(lua.message, /"lua": true to fastweights\.enable/);
    assert.ok(
      lua.tooltip.startsWith(
        'FastWeights: does not serve lua yet; enable it with "lua": true in fastweights.enable',
      ),
      lua.tooltip,
    );
    // The host tests read "off for this editor" for every editor FastWeights leaves alone.
    assert.match(lua.tooltip, /off for this editor/);

    const python = languageOffNotice('python', languageSupport('python', { '*': true, python: false }));
    assert.ok(python);
    assert.equal(python.button, 'Turn On for python');
    assert.match(python.message, /turned off for python in fastweights\.enable/);
    assert.doesNotMatch(python.message, /does not serve/);
  });

  it('starts the extension for every language served by default (package.json activationEvents)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const events: string[] = manifest.activationEvents;
    for (const id of DEFAULT_LANGUAGES) assert.ok(events.includes(`onLanguage:${id}`), id);
    const description: string =
      manifest.contributes.configuration.properties['fastweights.enable'].markdownDescription;
    for (const id of DEFAULT_LANGUAGES)
      assert.ok(description.includes(`\`${id}\``), `the setting names ${id}`);
  });
});
