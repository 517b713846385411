/**
 * The repository's fast-weight state (issue 24, item 3): one dense state made from the files most related
 * to the one being edited (relatedFiles.ts), added to that file's own state with a weight.
 *
 * Each related file gives the plain sum of its positions' contributions (no decay: a file elsewhere has no
 * distance to the cursor), cached by its content hash, so a file shared by many related sets is run through
 * the model once. The set's state is the mean contribution per token times 1 / (1 - lambda), the mass of the
 * decayed sum the head sees from a file's own text, so the weight reads as "this many files' worth of
 * state": 0 leaves the file alone. The weight and the token budget come from the model folder
 * (config.json `repository`), since a head trained on repository sequences wants other values than one
 * trained on single files.
 */
import { createHash } from 'node:crypto';
import { CompactState } from './compactState';
import { FastWeightState } from './fastWeights';
import type { FastWeightsRuntime } from './runtime';
import { Priority } from './scheduler';

export interface RepositoryConfig {
  /** Weight of the repository state beside the file's own (0: off). */
  weight: number;
  /** Tokens of related files summed at most (the most related first; a file that does not fit is skipped). */
  maxTokens: number;
}

/**
 * For the shipped model, trained on single files: the weight fitted on the valid split (`npm run
 * bench:repository -- data/valid-files`, 111 files of 10 packages, the first 512 and 1,024 tokens of each):
 * with the file cache and the index, 0.25 to 2 all gave within 0.5% of each other, 1 the lowest (the state
 * alone would take 2: -3.4% against -2.7% at 1 in the first 512 tokens). The budget is not tuned.
 */
export const DEFAULT_REPOSITORY_CONFIG: RepositoryConfig = { weight: 1, maxTokens: 16384 };

interface FileSum {
  sum: FastWeightState | CompactState;
  tokens: number;
}

export interface RepositoryStatesOptions {
  /** Scheduler priority of the model work (default background: completions go first). */
  priority?: Priority;
  /** Keep each file's sum as int8 rows (a quarter of the bytes; the editor's choice) instead of fp32. */
  compact?: boolean;
  /** Files' sums kept at most, least recently used dropped first (default: no limit). */
  maxFiles?: number;
  /**
   * Positions per model call (default 256). In the editor 64: each call is a scheduler unit that a
   * completion waits for when it arrives meanwhile (a 256-position unit held it up about 60 ms here).
   */
  sliceTokens?: number;
  /** Awaited before each model call: the editor holds the work back while the user types. */
  beforeUnit?: () => Promise<void>;
}

export class RepositoryCancelled extends Error {
  constructor() {
    super('repository state cancelled');
    this.name = 'RepositoryCancelled';
  }
}

export class RepositoryStates {
  private readonly sums = new Map<string, FileSum>();
  /** Token counts by content hash, of the files summed or found too large (not tokenized again). */
  private readonly counts = new Map<string, number>();
  private readonly priority: Priority;

  constructor(
    private readonly rt: FastWeightsRuntime,
    private readonly opts: RepositoryStatesOptions = {},
  ) {
    this.priority = opts.priority ?? 'background';
  }

  get fileCount(): number {
    return this.sums.size;
  }

  get byteLength(): number {
    let n = 0;
    for (const s of this.sums.values()) n += s.sum.byteLength;
    return n;
  }

  clear(): void {
    this.sums.clear();
    this.counts.clear();
  }

  /** The sum of `ids`' contributions (positions predicting ids[1..]), from the body's exact hidden states. */
  private async computeSum(ids: readonly number[], isCancelled?: () => boolean): Promise<FileSum> {
    const rt = this.rt;
    const d = rt.config.d_model;
    const all = [rt.config.bos_token_id, ...ids];
    const sum = rt.newState();
    let past = rt.emptyKv();
    const unit = async <R>(fn: () => Promise<R>): Promise<R> => {
      await this.opts.beforeUnit?.();
      return rt.scheduler.run(this.priority, () => {
        if (isCancelled?.()) throw new RepositoryCancelled();
        return fn();
      });
    };
    const slice = this.opts.sliceTokens ?? 256;
    for (let start = 0; start + 1 < all.length; start += slice) {
      const part = all.slice(start, start + slice);
      const r = await unit(() => rt.body(part, start, past));
      past = rt.trimKv(r.present, rt.maxPast);
      // The slice's last position predicts the first token of the next slice (none after the file's end).
      const targets = all.slice(start + 1, start + 1 + part.length);
      const n = targets.length;
      const c = await unit(() =>
        rt.contribution(r.hidden.subarray(0, n * d), targets, new Float32Array(n).fill(1)),
      );
      sum.addScaled(c, 1);
    }
    return { sum: this.opts.compact ? CompactState.from(sum) : sum, tokens: ids.length };
  }

  /** A file's summed contributions (fp32), from the cache when its text was seen. */
  async fileSum(text: string): Promise<{ sum: FastWeightState; tokens: number }> {
    const s = (await this.sumOf(text, Infinity))!;
    if (s.sum instanceof FastWeightState) return { sum: s.sum, tokens: s.tokens };
    const sum = this.rt.newState();
    s.sum.addScaledTo(sum, 1);
    return { sum, tokens: s.tokens };
  }

  /** As fileSum, but undefined without computing anything when the file has more than `room` tokens. */
  private async sumOf(text: string, room: number, isCancelled?: () => boolean): Promise<FileSum | undefined> {
    const key = createHash('sha1').update(text).digest('hex');
    const known = this.sums.get(key);
    if (known) {
      this.sums.delete(key); // (most recently used last)
      this.sums.set(key, known);
      return known.tokens <= room ? known : undefined;
    }
    if ((this.counts.get(key) ?? 0) > room) return undefined;
    const ids = this.rt.tokenizer.encode(text);
    if (this.counts.size > 4 * (this.opts.maxFiles ?? Infinity)) this.counts.clear();
    this.counts.set(key, ids.length);
    if (ids.length > room) return undefined;
    const s = await this.computeSum(ids, isCancelled);
    this.sums.set(key, s);
    const max = this.opts.maxFiles ?? Infinity;
    while (this.sums.size > max) this.sums.delete(this.sums.keys().next().value!);
    return s;
  }

  /**
   * The state of the related files `texts` (most related first) within `maxTokens`, scaled to one file's
   * decayed mass; multiply by the weight before adding it to a file's state.
   */
  async stateOf(
    texts: readonly string[],
    maxTokens: number,
    isCancelled?: () => boolean,
  ): Promise<{ state: FastWeightState; tokens: number; files: number; used: number[] }> {
    const state = this.rt.newState();
    let tokens = 0;
    let files = 0;
    const used: number[] = [];
    for (const [i, text] of texts.entries()) {
      const s = await this.sumOf(text, maxTokens - tokens, isCancelled);
      if (!s || s.tokens === 0) continue;
      used.push(i);
      if (s.sum instanceof CompactState) s.sum.addScaledTo(state, 1);
      else state.addScaled(s.sum, 1);
      tokens += s.tokens;
      files++;
    }
    if (tokens > 0) state.scale(1 / (1 - this.rt.config.fwl.decay) / tokens);
    return { state, tokens, files, used };
  }
}
