/**
 * A repository folder as `fastweights eval --workspace DIR` uses it: the index of its code files (the scored
 * file's own span left out) and, for each scored file, the repository state of its most related OTHER files
 * (the scored file is being written anew, so nothing of it may come from the workspace).
 */
import * as path from 'node:path';
import type { FastWeightState } from './fastWeights';
import { RepositoryGraph } from './relatedFiles';
import { DEFAULT_REPOSITORY_CONFIG, RepositoryConfig, RepositoryStates } from './repositoryState';
import type { FastWeightsRuntime } from './runtime';
import { SuffixIndex } from './suffixIndex';
import { DEFAULT_WORKSPACE_PARAMS, WorkspaceNgramParams } from './workspaceNgrams';

export interface ScoredFileWorkspace {
  index: SuffixIndex;
  params: WorkspaceNgramParams;
  /** The scored file's span in the index, when the workspace holds it. */
  exclude?: { from: number; to: number };
  repository: { state: FastWeightState; weight: number; files: number; tokens: number };
}

export class EvalWorkspace {
  private constructor(
    private readonly root: string,
    private readonly graph: RepositoryGraph,
    private readonly spans: ReadonlyMap<string, { from: number; to: number }>,
    readonly index: SuffixIndex,
    private readonly states: RepositoryStates,
    readonly config: RepositoryConfig,
  ) {}

  /** `files`: absolute path -> text of the workspace's code files. */
  static build(
    rt: FastWeightsRuntime,
    root: string,
    files: ReadonlyMap<string, string>,
    config?: Partial<RepositoryConfig>,
  ): EvalWorkspace {
    const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');
    const entries = [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const index = SuffixIndex.build(entries.map(([, text]) => rt.tokenizer.encode(text)));
    const spans = new Map(entries.map(([p], k) => [rel(p), index.documentSpan(k)] as const));
    const graph = new RepositoryGraph(new Map(entries.map(([p, text]) => [rel(p), text] as const)));
    const model = rt.config.repository;
    const merged: RepositoryConfig = {
      weight: config?.weight ?? model?.weight ?? DEFAULT_REPOSITORY_CONFIG.weight,
      maxTokens: config?.maxTokens ?? model?.max_tokens ?? DEFAULT_REPOSITORY_CONFIG.maxTokens,
    };
    return new EvalWorkspace(
      root,
      graph,
      spans,
      index,
      new RepositoryStates(rt, { priority: 'foreground' }),
      merged,
    );
  }

  get fileCount(): number {
    return this.graph.files.size;
  }

  /** What scoring `file` (an absolute path, inside the workspace or not) may use of the workspace. */
  async forFile(file: string): Promise<ScoredFileWorkspace> {
    const target = path.relative(this.root, file).split(path.sep).join('/');
    const related = this.graph.related(target).map((p) => this.graph.files.get(p)!);
    const repo = await this.states.stateOf(related, this.config.maxTokens);
    const exclude = this.spans.get(target);
    return {
      index: this.index,
      params: DEFAULT_WORKSPACE_PARAMS,
      ...(exclude ? { exclude } : {}),
      repository: { ...repo, weight: this.config.weight },
    };
  }
}
