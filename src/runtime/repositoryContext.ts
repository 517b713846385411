/**
 * The repository state of each document the editor asks about (issue 24, item 3), for the model worker: the
 * workspace's files as the index has them, their import graph (relatedFiles.ts), and per document the state
 * of its most related other files (repositoryState.ts), computed in the background when the document is
 * focused or first completed in, and added to its own state at the cursor with the model folder's weight.
 * Files' sums are kept as int8 rows by content hash, so a new list of files (a file saved) re-sums without
 * running the model on what did not change.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FastWeightState } from './fastWeights';
import { RepositoryGraph } from './relatedFiles';
import {
  DEFAULT_REPOSITORY_CONFIG,
  RepositoryCancelled,
  RepositoryConfig,
  RepositoryStates,
} from './repositoryState';
import type { FastWeightsRuntime } from './runtime';

/** Files' sums kept at most (0.53 MB each as int8, 25 MB in all): the related sets of a few open files. */
const MAX_FILE_SUMS = 48;

export interface RepositoryStateFor {
  /** The related files' state, already multiplied by the weight. */
  state: FastWeightState;
  /** The files that feed it (uris), most related first, and their tokens. */
  files: string[];
  tokens: number;
}

export class RepositoryContext {
  private graph: RepositoryGraph | undefined;
  private keyOf = new Map<string, string>();
  private uriOf = new Map<string, string>();
  private roots: string[] = [];
  private readonly ready = new Map<string, RepositoryStateFor>();
  private readonly pending = new Map<string, Promise<void>>();
  /** Documents whose related files gave nothing (none fits the budget): not tried again until setFiles. */
  private readonly empty = new Set<string>();
  private generation = 0;
  private readonly sums: RepositoryStates;
  readonly config: RepositoryConfig;

  /** `quiet`: resolves when the model may work on the repository (the worker: once typing pauses). */
  constructor(rt: FastWeightsRuntime, config?: Partial<RepositoryConfig>, quiet?: () => Promise<void>) {
    const model = rt.config.repository;
    this.config = {
      weight: config?.weight ?? model?.weight ?? DEFAULT_REPOSITORY_CONFIG.weight,
      maxTokens: config?.maxTokens ?? model?.max_tokens ?? DEFAULT_REPOSITORY_CONFIG.maxTokens,
    };
    this.sums = new RepositoryStates(rt, {
      compact: true,
      maxFiles: MAX_FILE_SUMS,
      sliceTokens: 64,
      ...(quiet ? { beforeUnit: quiet } : {}),
    });
  }

  /** The workspace's files (as indexed) and its folders (uris): the graph is rebuilt, the states dropped. */
  setFiles(files: readonly { uri: string; text: string }[], roots: readonly string[]): void {
    this.generation++;
    this.ready.clear();
    this.pending.clear();
    this.empty.clear();
    this.roots = roots.map(pathOf).sort((a, b) => b.length - a.length); // (the deepest root first)
    this.keyOf = new Map(files.map((f) => [f.uri, this.keyFor(f.uri)] as const));
    this.uriOf = new Map([...this.keyOf].map(([uri, key]) => [key, uri] as const));
    this.graph =
      files.length > 0
        ? new RepositoryGraph(new Map(files.map((f) => [this.keyOf.get(f.uri)!, f.text] as const)))
        : undefined;
  }

  clear(): void {
    this.setFiles([], []);
    this.sums.clear();
  }

  get byteLength(): number {
    let n = this.sums.byteLength;
    for (const r of this.ready.values()) n += r.state.byteLength;
    return n;
  }

  /** The state to add for `uri`, when computed for the current files (else undefined: see prepare). */
  stateFor(uri: string): RepositoryStateFor | undefined {
    return this.ready.get(uri);
  }

  /** Computes the state for `uri` in the background (once per list of files); resolves when done. */
  prepare(uri: string): Promise<void> {
    if (!this.graph || this.config.weight <= 0 || this.ready.has(uri) || this.empty.has(uri))
      return Promise.resolve();
    const running = this.pending.get(uri);
    if (running) return running;
    const generation = this.generation;
    const graph = this.graph;
    const job = (async () => {
      const related = graph.related(this.keyOf.get(uri) ?? this.keyFor(uri));
      const texts = related.map((k) => graph.files.get(k)!);
      try {
        // A new list of files cancels what is left of the sums for the old one.
        const r = await this.sums.stateOf(texts, this.config.maxTokens, () => generation !== this.generation);
        if (generation !== this.generation) return;
        if (r.files === 0) {
          this.empty.add(uri);
          return;
        }
        const files = r.used.map((i) => this.uriOf.get(related[i]!) ?? related[i]!);
        this.ready.set(uri, { state: r.state.scale(this.config.weight), files, tokens: r.tokens });
      } catch (e) {
        if (!(e instanceof RepositoryCancelled)) throw e;
      } finally {
        if (this.generation === generation) this.pending.delete(uri);
      }
    })();
    this.pending.set(uri, job);
    return job;
  }

  /** A document's path in the graph: relative to its workspace folder (prefixed by it with several). */
  private keyFor(uri: string): string {
    const p = pathOf(uri);
    const root = this.roots.find((r) => p.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
    if (!root) return p.split(path.sep).join('/');
    const rel = path.relative(root, p).split(path.sep).join('/');
    return this.roots.length > 1 ? `${path.basename(root)}/${rel}` : rel;
  }
}

function pathOf(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}
