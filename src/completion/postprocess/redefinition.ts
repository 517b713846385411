/**
 * Post-processing: a suggestion that would define again, at the top level, a name the file already
 * defines there. Such a line is nearly always a copy of a sibling (the file cache and attention both copy
 * well), while the user is writing the next, different one: on the valid split, "def p_expression_number"
 * offered where "def p_expression_name" came next. Top-level names are unique in ordinary code; nested
 * ones are not (every class has its __init__), so only lines without indentation count. Overloads (a
 * TypeScript signature ending in ';', a Python def after @overload) may repeat their name, and so may an
 * interface (TypeScript merges them).
 */
import type { CompletionContext } from '../context';

/** Top-level definitions: the keyword part and the name. */
const DEFINITIONS: readonly RegExp[] = [
  /^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/,
  /^class\s+([A-Za-z_]\w*)\s*[(:]/,
  /^(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*[(<]/,
  /^(?:export\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)[\s<{]/,
  /^(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*[=:]/,
  // Not interface: TypeScript merges an interface declared twice.
  /^(?:export\s+)?(?:declare\s+)?(?:type|enum)\s+([A-Za-z_$][\w$]*)[\s<={]/,
];

/** The name a top-level line defines, or undefined. */
export function definedName(line: string): string | undefined {
  if (line.length === 0 || /^\s/.test(line)) return undefined;
  for (const re of DEFINITIONS) {
    const m = re.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Whether accepting `text` would complete a top-level line defining a name the text before defines. */
export function redefinesName(text: string, ctx: CompletionContext): boolean {
  const completed = ctx.linePrefix + text.split('\n')[0]!;
  const name = definedName(completed);
  if (name === undefined) return false;
  const before = ctx.prefix.slice(0, ctx.prefix.length - ctx.linePrefix.length).split('\n');
  for (let i = 0; i < before.length; i++) {
    const line = before[i]!;
    if (definedName(line) !== name) continue;
    const overload = line.trimEnd().endsWith(';') || (i > 0 && before[i - 1]!.trim() === '@overload');
    if (!overload) return true;
  }
  return false;
}
