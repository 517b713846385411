// The README's tables of commands and settings against package.json `contributes`: a command, setting or
// key binding added (or renamed, or given another default) without its README row fails here.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root (tests run from out/test/unit/). */
const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Contributes {
  commands: { command: string; title: string; category?: string }[];
  keybindings?: { command: string; key: string; mac?: string }[];
  configuration: { properties: Record<string, { default?: unknown }> };
}

/** A Markdown table: its header cells and its body rows, each a list of cells. */
interface Table {
  header: string[];
  rows: string[][];
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** Every pipe table of a Markdown text (lines starting with `|`, a `|---|` line after the header). */
export function markdownTables(text: string): Table[] {
  const tables: Table[] = [];
  let block: string[] = [];
  const flush = (): void => {
    if (block.length >= 2 && /^\|?\s*:?-{3,}/.test(block[1]!.trim())) {
      tables.push({ header: cells(block[0]!), rows: block.slice(2).map(cells) });
    }
    block = [];
  };
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('|')) block.push(line);
    else flush();
  }
  flush();
  return tables;
}

/** The identifiers in backticks of a cell (`fastweights.enable` -> fastweights.enable). */
function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/**
 * Rows of the tables whose first header cell starts with `word`, keyed by the fastweights.* id in their id
 * cell (the column headed "id", else the first one; other cells may mention other ids).
 */
function rowsById(tables: Table[], word: string): Map<string, { header: string[]; row: string[] }> {
  const found = new Map<string, { header: string[]; row: string[] }>();
  for (const t of tables) {
    if (!t.header[0]?.toLowerCase().startsWith(word)) continue;
    const idColumn = Math.max(
      0,
      t.header.findIndex((h) => h.toLowerCase() === 'id'),
    );
    for (const row of t.rows) {
      for (const id of codeSpans(row[idColumn] ?? '').filter((s) => /^fastweights\.[\w.]+$/.test(s))) {
        assert.ok(!found.has(id), `README: two ${word} rows for ${id}`);
        found.set(id, { header: t.header, row });
      }
    }
  }
  return found;
}

/** The cell of `row` under the header cell starting with `name`. */
function column(header: string[], row: string[], name: string): string {
  const i = header.findIndex((h) => h.toLowerCase().startsWith(name));
  assert.ok(i >= 0, `README table ${JSON.stringify(header)} has no "${name}" column`);
  return row[i] ?? '';
}

/** "Alt+/ (Ctrl+Alt+/ on macOS)" holds the binding "alt+/"; keys compare without case or spaces. */
function mentionsKey(cell: string, key: string): boolean {
  const squash = (s: string): string => s.toLowerCase().replace(/\s+/g, '');
  return squash(cell).includes(squash(key));
}

export function driftProblems(readme: string, contributes: Contributes): string[] {
  const problems: string[] = [];
  const tables = markdownTables(readme);
  const commandRows = rowsById(tables, 'command');
  const settingRows = rowsById(tables, 'setting');

  for (const c of contributes.commands) {
    const entry = commandRows.get(c.command);
    if (!entry) {
      problems.push(`command ${c.command} has no row in the README's commands table`);
      continue;
    }
    const title = c.category ? `${c.category}: ${c.title}` : c.title;
    if (!entry.row[0]!.includes(title)) {
      problems.push(`command ${c.command}: README says ${JSON.stringify(entry.row[0])}, not "${title}"`);
    }
  }
  for (const kb of contributes.keybindings ?? []) {
    const entry = commandRows.get(kb.command);
    if (!entry) continue; // reported above when the command is contributed
    const keys = column(entry.header, entry.row, 'key');
    for (const key of [kb.key, kb.mac].filter((k): k is string => k !== undefined)) {
      if (!mentionsKey(keys, key)) problems.push(`key ${key} of ${kb.command} is not in its README row`);
    }
  }
  const properties = contributes.configuration.properties;
  for (const [name, schema] of Object.entries(properties)) {
    const entry = settingRows.get(name);
    if (!entry) {
      problems.push(`setting ${name} has no row in the README's settings table`);
      continue;
    }
    const shown = codeSpans(column(entry.header, entry.row, 'default'));
    let parsed: unknown;
    try {
      parsed = shown.length === 1 ? JSON.parse(shown[0]!) : undefined;
    } catch {
      parsed = shown[0]; // a bare string default: `automatic`
    }
    if (!isDeepStrictEqualSafe(parsed, schema.default)) {
      problems.push(
        `setting ${name}: README default ${JSON.stringify(shown)}, package.json ${JSON.stringify(schema.default)}`,
      );
    }
  }
  const known = new Set(contributes.commands.map((c) => c.command));
  for (const id of commandRows.keys()) {
    if (!known.has(id)) problems.push(`README lists command ${id}, which package.json does not contribute`);
  }
  for (const id of settingRows.keys()) {
    if (!(id in properties))
      problems.push(`README lists setting ${id}, which package.json does not contribute`);
  }
  return problems;
}

function isDeepStrictEqualSafe(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function load(): { readme: string; contributes: Contributes } {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    contributes: Contributes;
  };
  return { readme, contributes: pkg.contributes };
}

describe('README drift against package.json contributes', () => {
  it('has a row, with the right title, key and default, for every command, key binding and setting', () => {
    const { readme, contributes } = load();
    assert.ok(
      contributes.commands.length > 0 && Object.keys(contributes.configuration.properties).length > 0,
    );
    assert.deepEqual(driftProblems(readme, contributes), []);
  });

  it('fails when a row is missing, stale or wrong (the check itself)', () => {
    const { readme, contributes } = load();
    const lines = readme.split('\n');
    const settingRow = lines.findIndex((l) => l.startsWith('| `fastweights.maxLines`'));
    const commandRow = lines.findIndex((l) => l.includes('`fastweights.triggerCompletion`'));
    assert.ok(settingRow >= 0 && commandRow >= 0, 'the README rows this test edits exist');

    const withoutSetting = lines.filter((_, i) => i !== settingRow).join('\n');
    assert.deepEqual(driftProblems(withoutSetting, contributes), [
      "setting fastweights.maxLines has no row in the README's settings table",
    ]);
    const withoutCommand = lines.filter((_, i) => i !== commandRow).join('\n');
    assert.deepEqual(driftProblems(withoutCommand, contributes), [
      "command fastweights.triggerCompletion has no row in the README's commands table",
    ]);

    const added = structuredClone(contributes);
    added.commands.push({ command: 'fastweights.newThing', title: 'New Thing', category: 'FastWeights' });
    added.configuration.properties['fastweights.newSetting'] = { default: 1 };
    assert.deepEqual(driftProblems(readme, added), [
      "command fastweights.newThing has no row in the README's commands table",
      "setting fastweights.newSetting has no row in the README's settings table",
    ]);

    const fewer = structuredClone(contributes);
    fewer.commands = fewer.commands.filter((c) => c.command !== 'fastweights.reloadModel');
    assert.deepEqual(driftProblems(readme, fewer), [
      'README lists command fastweights.reloadModel, which package.json does not contribute',
    ]);

    const changed = structuredClone(contributes);
    changed.configuration.properties['fastweights.maxLines']!.default = 7;
    changed.keybindings = [{ command: 'fastweights.triggerCompletion', key: 'ctrl+shift+9' }];
    assert.deepEqual(driftProblems(readme, changed), [
      'key ctrl+shift+9 of fastweights.triggerCompletion is not in its README row',
      'setting fastweights.maxLines: README default ["6"], package.json 7',
    ]);
  });
});
