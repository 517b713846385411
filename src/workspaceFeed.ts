/**
 * Feeds the model worker the workspace's source files, so completions also draw on the rest of the
 * repository (the worker's suffix-array index, issue 24). This module only collects text: which files
 * (the workspace folders' source files, `files.exclude`, `search.exclude` and .gitignore honoured,
 * node_modules and files the input guards leave alone skipped, open documents from their editor text), in which order when
 * the token budget binds (nearest to the active file first), and when to send them again (created,
 * changed, deleted or renamed files, after a quiet spell).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { GitignoreRules } from './gitignoreRules';
import { skipReason } from './inputGuards';

/**
 * The source files the index holds: the trained languages and the code languages served by default
 * (completion/languages.ts). The index added 5-13 points of keystrokes saved in held-out Go, Rust, Java
 * and C++ packages (docs/evaluation.md#languages). Config and prose (JSON, YAML, Markdown) stay out.
 */
const SOURCE_GLOB = '**/*.{ts,tsx,js,jsx,mjs,cjs,py,go,rs,java,cs,c,h,cpp,cc,cxx,hpp,php,rb,sh}';
const ALWAYS_EXCLUDED = ['**/node_modules/**', '**/.git/**', '**/*.min.js'];
/** Files listed at most (the budget usually binds first). */
const MAX_FILES = 20000;
/** Bytes per token, about, in this model's code: the budget is checked on bytes before tokenizing. */
const BYTES_PER_TOKEN = 3.5;
/** Quiet time after file changes before the index is built again (a branch switch touches many files). */
const REBUILD_DELAY_MS = 5000;

export interface WorkspaceFeedDeps {
  /** Sends the files (the client's setWorkspace); resolves with the index built, reporting progress. */
  send(
    files: { uri: string; text: string }[],
    progress?: (done: number, total: number) => void,
  ): Promise<{ files: number; tokens: number; ms: number; tokenized: number }>;
  enabled(): boolean;
  maxTokens(): number;
  log(message: string): void;
  /** What the status bar says of the index: "indexing D/N files", then the summary. */
  onStatus(status: { indexing: boolean; text: string }): void;
}

export class WorkspaceFeed implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  /** Callers waiting for a build that starts after they asked (rebuildNow). */
  private waiters: (() => void)[] = [];

  constructor(private readonly deps: WorkspaceFeedDeps) {
    const changed = (): void => this.schedule(REBUILD_DELAY_MS);
    // Source files, and the .gitignore files that say which of them count.
    for (const glob of [SOURCE_GLOB, '**/.gitignore']) {
      const watcher = vscode.workspace.createFileSystemWatcher(glob);
      this.disposables.push(
        watcher,
        watcher.onDidCreate(changed),
        watcher.onDidChange(changed),
        watcher.onDidDelete(changed),
      );
    }
    this.disposables.push(vscode.workspace.onDidChangeWorkspaceFolders(changed));
  }

  /** Builds the index soon (`delayMs` after the last call), or drops it when the setting is off. */
  schedule(delayMs = 0): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rebuild(), delayMs);
  }

  /** Builds the index now from the files as they are; resolves when that build is done (or failed). */
  rebuildNow(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule(0);
    });
  }

  private async rebuild(): Promise<void> {
    this.timer = undefined;
    if (this.running) {
      this.again = true; // one more build once this one is done, with what changed meanwhile
      return;
    }
    this.running = true;
    // This build reads the files after these callers asked: it is the one they wait for.
    const waiters = this.waiters;
    this.waiters = [];
    try {
      if (!this.deps.enabled()) {
        await this.deps.send([]);
        this.deps.onStatus({ indexing: false, text: 'workspace adaptation off' });
        return;
      }
      const files = await this.collect();
      const count = (n: number): string => n.toLocaleString('en-US');
      this.deps.onStatus({ indexing: true, text: `indexing ${count(files.length)} files` });
      const built = await this.deps.send(files, (done, total) =>
        this.deps.onStatus({ indexing: true, text: `indexing ${count(done)}/${count(total)} files` }),
      );
      const summary =
        `workspace index: ${built.files.toLocaleString('en-US')} files, ` +
        `${built.tokens.toLocaleString('en-US')} tokens`;
      this.deps.log(
        `${summary} in ${built.ms.toFixed(0)} ms (${built.tokenized} tokenized, the rest unchanged)`,
      );
      this.deps.onStatus({ indexing: false, text: summary });
    } catch (e) {
      this.deps.log(`workspace index failed: ${e instanceof Error ? e.message : String(e)}`);
      this.deps.onStatus({ indexing: false, text: 'workspace index failed (see the log)' });
    } finally {
      for (const w of waiters) w();
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule(REBUILD_DELAY_MS);
      }
    }
  }

  /** The files to index, nearest to the active editor's file first, within the token budget. */
  private async collect(): Promise<{ uri: string; text: string }[]> {
    const exclude = `{${[...ALWAYS_EXCLUDED, ...excludedGlobs()].join(',')}}`;
    const ignored = await gitIgnored(exclude);
    const uris = (await vscode.workspace.findFiles(SOURCE_GLOB, exclude, MAX_FILES)).filter(
      (u) => !ignored(u),
    );
    const active = vscode.window.activeTextEditor?.document.uri.fsPath;
    const open = new Map(vscode.workspace.textDocuments.map((d) => [d.uri.toString(), d] as const));
    uris.sort(
      (a, b) => distance(active, a.fsPath) - distance(active, b.fsPath) || a.fsPath.localeCompare(b.fsPath),
    );
    const budget = this.deps.maxTokens() * BYTES_PER_TOKEN;
    const out: { uri: string; text: string }[] = [];
    let bytes = 0;
    for (const uri of uris) {
      const doc = open.get(uri.toString());
      let text: string;
      try {
        text = doc ? doc.getText() : new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      } catch {
        continue; // deleted meanwhile, or unreadable: left out
      }
      if (skipReason(text) !== undefined) continue; // binary, minified or huge: as for open files
      if (bytes + text.length > budget) continue;
      bytes += text.length;
      out.push({ uri: uri.toString(), text });
    }
    return out;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * What the workspace folders' .gitignore files (and .git/info/exclude) leave out: a test on a file's uri.
 * A file outside every workspace folder is kept.
 */
async function gitIgnored(exclude: string): Promise<(uri: vscode.Uri) => boolean> {
  const byFolder = new Map<string, GitignoreRules>();
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const found = await vscode.workspace.findFiles(
      new vscode.RelativePattern(folder, '**/.gitignore'),
      exclude,
    );
    const candidates = [...found, vscode.Uri.joinPath(folder.uri, '.git', 'info', 'exclude')];
    const files = [];
    for (const uri of candidates) {
      try {
        const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
        const rel = path.posix.dirname(
          path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/'),
        );
        // .git/info/exclude holds rules for the whole repository, like a top-level .gitignore.
        files.push({ dir: rel === '.git/info' || rel === '.' ? '' : rel, text });
      } catch {
        // no such file, or unreadable: no rules from it
      }
    }
    if (files.length > 0) byFolder.set(folder.uri.toString(), new GitignoreRules(files));
  }
  return (uri) => {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const rules = folder && byFolder.get(folder.uri.toString());
    if (!rules) return false;
    return rules.ignores(path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/'));
  };
}

/** The globs `files.exclude` and `search.exclude` turn on (their `true` entries). */
function excludedGlobs(): string[] {
  const globs: string[] = [];
  for (const key of ['files.exclude', 'search.exclude']) {
    const map = vscode.workspace.getConfiguration().get<Record<string, unknown>>(key) ?? {};
    for (const [glob, on] of Object.entries(map)) if (on === true) globs.push(glob);
  }
  return globs;
}

/** Folder steps between two files (0: the same folder); a file far from everything open comes last. */
function distance(from: string | undefined, to: string): number {
  if (!from) return 0;
  const a = path.dirname(from).split(path.sep);
  const b = path.dirname(to).split(path.sep);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return a.length - common + (b.length - common);
}
