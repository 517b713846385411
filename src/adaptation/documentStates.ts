/**
 * uri -> fast-weight state of an open document. States are built in the background (scheduler units at
 * background priority, so completions go first), rebuilt after edits with a debounce, dropped when the
 * document closes, and evicted least-recently-used beyond a memory budget. No editor API here: the extension
 * feeds it document events.
 */
import {
  blocksAround,
  BuildCancelled,
  BuildOptions,
  DocumentState,
  FastWeightState,
  FastWeightsRuntime,
  FileNgrams,
  TokenizedText,
  unfinishedLineBlocks,
} from '../runtime';

export interface DocumentSnapshot {
  uri: string;
  version: number;
  getText(): string;
  /** Character offset of the cursor, when known: the state near it is built first. */
  cursorOffset?: number;
}

export interface DocumentStateInfo {
  uri: string;
  /** Token positions the state holds (0 when empty or reset). */
  tokens: number;
  /** Document version the state was built from (undefined: never built, or reset). */
  builtVersion: number | undefined;
  building: boolean;
  buildMs: number;
  bytes: number;
  /** Chunks the last build computed (the rest came from the chunk cache). */
  computedChunks?: number;
  /** Token positions the last build ran the body on. */
  bodyTokens?: number;
  /**
   * Whether the state is folded to save memory (exact near its cursor; computed in full again when the file
   * is edited or its cursor moves away).
   */
  folded?: boolean;
  /** Where `bytes` goes (DocumentState.bytesByPart, and the file n-gram cache). */
  bytesByPart?: Record<string, number>;
  /** Whether the memory budget dropped the state (it is built again when the file is focused or edited). */
  dropped?: boolean;
}

interface Entry {
  uri: string;
  state: DocumentState;
  /** The file's token n-gram counts, updated with each build (they are cheap: no model run). */
  ngrams: FileNgrams;
  /** What the counts were made from, so a completion can leave out the line it completes. */
  counted?: { tokens: TokenizedText; text: string; from: number; to: number; skip: number[] };
  builtVersion: number | undefined;
  building: { version: number; cancelled: boolean; done: Promise<void> } | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The snapshot of the last build started (a cursor that leaves the window rebuilds it there). */
  doc: DocumentSnapshot | undefined;
  /** The editor's cursor, as last reported (cursorMoved). */
  cursorOffset: number | undefined;
  /**
   * A build the resting cursor started (window, fold or group there): once done, the cursor's own work
   * (state summed, chunk readied for typing) follows, as for a cursor that needed no build.
   */
  restAfterBuild?: boolean;
  /** The state at a moved cursor being summed ahead of the next completion there. */
  cursorWork: Promise<void> | undefined;
  lastUsed: number;
  /** The memory budget dropped the state (cleared by the next build). */
  dropped: boolean;
  /** Waiters for the next finished build. */
  waiters: (() => void)[];
}

export interface DocumentStatesOptions {
  /** Delay after an edit before rebuilding (ms). */
  editDebounceMs?: number;
  /** Delay after opening a document before building (ms). */
  openDelayMs?: number;
  /** Memory budget for all states together (bytes; default 256 MB). Least recently used states go first. */
  budgetBytes?: number;
  /** Most tokens of a document used for its state. */
  maxTokens?: number;
  /** Sum chunks far from the cursor into groups (BuildOptions.groupFar; default true). */
  groupFar?: boolean;
  log?: (message: string) => void;
  onBusyChange?: (building: number) => void;
  /** Called when a document's state changed: built, reset, dropped, or a build ended. */
  onStateChange?: (uri: string) => void;
}

export const DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024;

/** The n-gram cache counts this many times the state's tokens around the cursor. */
const NGRAM_WINDOW_FACTOR = 4;

/** Documents that keep their summed cursor state between requests (the others rebuild it when asked). */
const CURSOR_CACHES_KEPT = 2;

/** A cursor that rests this long (ms) gets its state summed ahead of the next completion. */
const CURSOR_SETTLE_MS = 30;

export class DocumentStates {
  private readonly entries = new Map<string, Entry>();
  private runtime: FastWeightsRuntime | undefined;
  private buildingCount = 0;
  /** Bytes of the budget the workspace's adaptation holds (reserve). */
  private reserved = 0;
  private readonly opts: Required<Omit<DocumentStatesOptions, 'log' | 'onBusyChange' | 'onStateChange'>> &
    Pick<DocumentStatesOptions, 'log' | 'onBusyChange' | 'onStateChange'>;

  constructor(options: DocumentStatesOptions = {}) {
    this.opts = {
      editDebounceMs: options.editDebounceMs ?? 800,
      openDelayMs: options.openDelayMs ?? 50,
      budgetBytes: options.budgetBytes ?? DEFAULT_BUDGET_BYTES,
      maxTokens: options.maxTokens ?? 8192,
      groupFar: options.groupFar ?? true,
      log: options.log,
      onBusyChange: options.onBusyChange,
      onStateChange: options.onStateChange,
    };
  }

  /** Sets (or replaces) the runtime; existing states are dropped because they belong to the old model. */
  setRuntime(rt: FastWeightsRuntime | undefined): void {
    for (const e of this.entries.values()) this.cancel(e);
    this.entries.clear();
    this.runtime = rt;
  }

  get busy(): number {
    return this.buildingCount;
  }

  /** A document was opened or became relevant: build its state soon. */
  opened(doc: DocumentSnapshot): void {
    this.schedule(doc, this.opts.openDelayMs);
  }

  /** A document changed: rebuild after the debounce. */
  changed(doc: DocumentSnapshot): void {
    // The change's cursor is newer than the last one reported at rest: without this, the build that
    // follows would see "the cursor moved" and sum the state at the old place again.
    const e = this.entries.get(doc.uri);
    if (e && doc.cursorOffset !== undefined) e.cursorOffset = doc.cursorOffset;
    this.schedule(doc, this.opts.editDebounceMs);
  }

  /**
   * The editor's cursor moved in a document. Once it rests, the state at the cursor is summed in the
   * background, so the first completion after a jump does not pay for it (a fresh sum over the chunks
   * around a far cursor: 5-6 ms in the benchmark's 5,000-line file); when the cursor left the middle of
   * a large document's window, the state is rebuilt around it (chunks already computed are reused).
   */
  cursorMoved(uri: string, cursorOffset: number): void {
    const e = this.entries.get(uri);
    if (!e || !this.runtime) return;
    e.cursorOffset = cursorOffset;
    // A build under way or due uses its own cursor; it checks this one when it ends.
    if (e.building || e.timer || e.builtVersion === undefined || !e.doc) return;
    // A folded state is exact only near the cursor it was folded at: elsewhere, compute it in full again.
    const unfold = e.state.isFolded && !e.state.foldCovers(cursorOffset);
    // Likewise chunks kept summed in groups far from the last cursor: near this one they count one by one.
    const regroup = e.state.groupedNear(cursorOffset);
    if (unfold || regroup || e.state.windowMisses(cursorOffset, this.opts.maxTokens)) {
      this.schedule({ ...e.doc, cursorOffset }, 0, true);
      e.restAfterBuild = true;
      return;
    }
    this.rest(e, cursorOffset);
  }

  /** A resting cursor's work: the state there summed, then the chunk there readied for typing. */
  private rest(e: Entry, cursorOffset: number): void {
    const rt = this.runtime;
    const uri = e.uri;
    if (e.cursorWork || !rt) return; // the pending sum reads e.cursorOffset when it runs
    let at = cursorOffset;
    e.cursorWork = new Promise<void>((resolve) => setTimeout(resolve, CURSOR_SETTLE_MS))
      .then(() =>
        rt.scheduler.run('background', async () => {
          if (this.entries.get(uri) !== e || e.building || e.builtVersion === undefined) return;
          at = e.cursorOffset ?? cursorOffset;
          e.state.prepareCursor(at);
          this.touch(e);
          this.evict(e);
        }),
      )
      // Then the chunk there is readied for typing (its snapshot and trace), unless an edit, a build or
      // another cursor move comes first.
      .then(() => this.prepareEdit(e, at))
      .catch((err: unknown) => this.opts.log?.(`cursor state for ${uri} failed: ${String(err)}`))
      .finally(() => (e.cursorWork = undefined));
  }

  closed(uri: string): void {
    const e = this.entries.get(uri);
    if (!e) return;
    this.cancel(e);
    this.entries.delete(uri);
    e.waiters.splice(0).forEach((w) => w());
    this.opts.onStateChange?.(uri);
  }

  /** Empties one document's state (it adapts again after the next edit). */
  reset(uri: string): void {
    const e = this.entries.get(uri);
    if (!e) return;
    this.cancel(e);
    e.state.reset();
    e.ngrams.clear();
    e.counted = undefined;
    e.builtVersion = undefined;
    e.waiters.splice(0).forEach((w) => w());
    this.opts.onStateChange?.(uri);
  }

  resetAll(): void {
    for (const uri of this.entries.keys()) this.reset(uri);
  }

  info(uri: string): DocumentStateInfo | undefined {
    const e = this.entries.get(uri);
    if (!e) return undefined;
    return {
      uri,
      tokens: e.state.tokenCount,
      builtVersion: e.builtVersion,
      building: e.building !== undefined || e.timer !== undefined,
      buildMs: e.state.buildMs,
      bytes: e.state.byteLength + e.ngrams.byteLength,
      bytesByPart: { ...e.state.bytesByPart, ngrams: e.ngrams.byteLength },
      computedChunks: e.state.lastBuildComputed,
      bodyTokens: e.state.lastBuildBodyTokens,
      folded: e.state.isFolded,
      dropped: e.dropped,
    };
  }

  /** The state and n-gram cache to complete with at the cursor, or undefined when no state is built. */
  stateFor(
    uri: string,
    prefix: string,
  ): { state: () => FastWeightState; tokens: number; ngrams: FileNgrams } | undefined {
    const e = this.entries.get(uri);
    if (!e || e.state.tokenCount === 0) return undefined;
    this.touch(e);
    return {
      // Summed when called: completeLine does that once the request holds the model (see its `state` option).
      state: () => e.state.stateAt(e.state.positionForPrefix(prefix)),
      tokens: e.state.tokenCount,
      ngrams: this.ngramsAt(e, prefix),
    };
  }

  /** The entry's n-gram counts without the unfinished line at the cursor (recounted there if it moved). */
  private ngramsAt(e: Entry, prefix: string): FileNgrams {
    const c = e.counted;
    // Folded for memory (evict): counted again from the tokens kept, a few milliseconds.
    if (c && e.ngrams.tokenCount === 0) e.ngrams.update(c.tokens, c.from, c.to, c.skip);
    if (c && c.text.startsWith(prefix)) {
      const skip = unfinishedLineBlocks(c.tokens, c.text, prefix.length);
      if (skip.join() !== c.skip.join()) {
        e.ngrams.reskip(c.tokens, c.from, c.to, c.skip, skip);
        c.skip = skip;
      }
    }
    return e.ngrams;
  }

  /** Changes the memory budget; states over it are dropped at once, least recently used first. */
  setBudget(bytes: number): void {
    this.opts.budgetBytes = bytes;
    this.evict(undefined);
  }

  /**
   * Bytes of the same budget that the workspace's adaptation holds (its index and repository states): the
   * files' states get the rest, but never less than half of it (the workspace keeps its own limits:
   * fastweights.workspace.maxTokens, and at most 48 files' sums).
   */
  reserve(bytes: number): void {
    this.reserved = Math.max(0, bytes);
    this.evict(undefined);
  }

  /** What the files' states may hold together. */
  private get statesBudget(): number {
    const budget = this.opts.budgetBytes;
    return Math.max(budget / 2, budget - this.reserved);
  }

  /** Marks a document as just used; only the most recent ones keep their summed cursor state. */
  private touch(e: Entry): void {
    e.lastUsed = Math.max(Date.now(), ...[...this.entries.values()].map((x) => x.lastUsed + 1));
    const recent = [...this.entries.values()].sort((a, b) => b.lastUsed - a.lastUsed);
    for (const other of recent.slice(CURSOR_CACHES_KEPT)) {
      const before = other.state.byteLength;
      other.state.dropCursorCache();
      // The main thread mirrors each state's bytes: tell it when a drop changed them.
      if (other.state.byteLength !== before) this.opts.onStateChange?.(other.uri);
    }
  }

  /** Readies the chunk at a resting cursor for typing (DocumentState.prepareEdit), in background units. */
  private async prepareEdit(e: Entry, at: number): Promise<void> {
    const stale = (): boolean =>
      this.entries.get(e.uri) !== e ||
      e.building !== undefined ||
      e.timer !== undefined ||
      e.builtVersion === undefined ||
      e.cursorOffset !== at;
    if (stale()) return;
    try {
      if (await e.state.prepareEdit(at, { priority: 'background', isCancelled: stale })) {
        this.evict(e); // the snapshot and trace count against the budget
        this.opts.onStateChange?.(e.uri);
      }
    } catch (err) {
      if (!(err instanceof BuildCancelled)) throw err;
    }
  }

  /** Resolves when no build and no cursor sum is pending or running for `uri` (or it closed). */
  async whenIdle(uri: string): Promise<void> {
    for (;;) {
      const e = this.entries.get(uri);
      if (!e) return;
      if (e.building || e.timer) await new Promise<void>((resolve) => e.waiters.push(resolve));
      else if (e.cursorWork) await e.cursorWork;
      else return;
    }
  }

  dispose(): void {
    this.setRuntime(undefined);
  }

  private entryFor(uri: string): Entry | undefined {
    let e = this.entries.get(uri);
    if (!e) {
      if (!this.runtime) return undefined;
      e = {
        uri,
        state: new DocumentState(this.runtime),
        ngrams: new FileNgrams(this.runtime.config.vocab_size),
        builtVersion: undefined,
        building: undefined,
        timer: undefined,
        doc: undefined,
        cursorOffset: undefined,
        cursorWork: undefined,
        lastUsed: Date.now(),
        dropped: false,
        waiters: [],
      };
      this.entries.set(uri, e);
    }
    return e;
  }

  private cancel(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    if (e.building) e.building.cancelled = true;
  }

  /** `again`: build even when this version is built (the cursor moved the window). */
  private schedule(doc: DocumentSnapshot, delay: number, again = false): void {
    const e = this.entryFor(doc.uri);
    if (!e) return;
    if (e.builtVersion === doc.version && !e.building && !again) return;
    this.cancel(e);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      void this.build(e, doc);
    }, delay);
  }

  private async build(e: Entry, doc: DocumentSnapshot): Promise<void> {
    if (!this.runtime || this.entries.get(e.uri) !== e) return;
    const job = { version: doc.version, cancelled: false, done: Promise.resolve() };
    e.building = job;
    e.doc = doc;
    this.buildingCount++;
    this.opts.onBusyChange?.(this.buildingCount);
    // Say so at the start too: a build the cursor started (no document update) is otherwise invisible.
    this.opts.onStateChange?.(e.uri);
    const text = doc.getText();
    try {
      const buildOptions: BuildOptions = {
        priority: 'background',
        maxTokens: this.opts.maxTokens,
        groupFar: this.opts.groupFar,
        isCancelled: () => job.cancelled,
      };
      if (doc.cursorOffset !== undefined) buildOptions.cursorOffset = doc.cursorOffset;
      // The counts cost no model time, so they reach further than the state does.
      let tokens: TokenizedText | undefined;
      buildOptions.onTokenized = (tokenized) => (tokens = tokenized);
      await e.state.rebuild(text, buildOptions);
      // Counted when the state is done, so that they count against the budget at the same time.
      if (tokens) {
        const cursor = doc.cursorOffset ?? 0;
        const window = NGRAM_WINDOW_FACTOR * this.opts.maxTokens;
        const { from, to } = blocksAround(tokens, cursor, window, e.counted);
        const skip = unfinishedLineBlocks(tokens, text, cursor);
        e.ngrams.update(tokens, from, to, skip);
        e.counted = { tokens, text, from, to, skip };
      }
      e.builtVersion = job.version;
      e.dropped = false;
      this.touch(e);
      // The next completion is likely near the same cursor: sum its state ahead of it, in one background
      // unit after the build (a completion arriving first computes it itself).
      const cursor = doc.cursorOffset;
      const rt = this.runtime;
      if (cursor !== undefined) {
        rt.scheduler
          .run('background', async () => {
            if (this.entries.get(e.uri) === e && e.builtVersion === job.version) {
              e.state.prepareCursor(cursor);
              this.evict(e); // the summed cursor state counts against the budget too
            }
          })
          .catch((err: unknown) => this.opts.log?.(`cursor state for ${e.uri} failed: ${String(err)}`));
      }
      this.opts.log?.(
        `state for ${e.uri}: ${e.state.tokenCount} tokens in ${e.state.buildMs.toFixed(0)} ms ` +
          `(${e.state.lastBuildComputed} of ${e.state.chunkCount} chunks computed) ` +
          `(${(e.state.byteLength / 1048576).toFixed(1)} MB)`,
      );
      this.evict(e);
    } catch (err) {
      if (!(err instanceof BuildCancelled)) this.opts.log?.(`state for ${e.uri} failed: ${String(err)}`);
    } finally {
      if (e.building === job) e.building = undefined;
      this.buildingCount--;
      this.opts.onBusyChange?.(this.buildingCount);
      if (!e.building && !e.timer) e.waiters.splice(0).forEach((w) => w());
      this.opts.onStateChange?.(e.uri);
      // The cursor moved while this build ran: sum the state there (or move the window) now.
      const moved = e.cursorOffset !== undefined && e.cursorOffset !== doc.cursorOffset;
      // A build the resting cursor started: its own work follows (not cursorMoved again, which could
      // start the same build once more).
      const rest = e.restAfterBuild;
      if (!e.building && !e.timer && this.entries.get(e.uri) === e && e.cursorOffset !== undefined) {
        e.restAfterBuild = false;
        if (moved) this.cursorMoved(e.uri, e.cursorOffset);
        else if (rest) this.rest(e, e.cursorOffset);
      }
    }
  }

  /**
   * Over the budget, the least recently used states are folded first (DocumentState.fold: about 7 MB for an
   * 800-line file, exact near its cursor), and only if that is not enough without the states being built
   * dropped, least recently used first. `keep` (the state just built or used) is neither.
   */
  private evict(keep: Entry | undefined): void {
    const bytes = (e: Entry): number => e.state.byteLength + e.ngrams.byteLength;
    let total = 0;
    for (const e of this.entries.values()) total += bytes(e);
    const budget = this.statesBudget;
    if (total <= budget) return;
    const lru = [...this.entries.values()].filter((e) => e !== keep).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of lru) {
      if (total <= budget) break;
      if (e.building || e.builtVersion === undefined) continue;
      const before = bytes(e);
      const folded = e.state.fold();
      // The n-gram counts too: counted again from the same tokens when the file is used (ngramsAt).
      const counts = e.state.isFolded && e.ngrams.tokenCount > 0;
      if (counts) e.ngrams.clear();
      if (!folded && !counts) continue;
      total -= before - bytes(e);
      this.opts.log?.(`state for ${e.uri} folded (memory budget): ${(bytes(e) / 1048576).toFixed(1)} MB`);
      this.opts.onStateChange?.(e.uri);
    }
    // A state being built holds every chunk it computed one by one until it sums the far ones into groups
    // at its end: that passing peak costs no other file its adaptation (the build's end evicts again, with
    // that state as `keep`).
    let building = 0;
    for (const e of this.entries.values()) if (e.building && e !== keep) building += bytes(e);
    for (const e of lru) {
      if (total - building <= budget) break;
      if (e.state.tokenCount === 0 || e.building) continue;
      total -= bytes(e);
      e.state.reset();
      e.ngrams.clear();
      e.counted = undefined;
      e.builtVersion = undefined;
      e.dropped = true;
      this.opts.log?.(`state for ${e.uri} dropped (memory budget); it is rebuilt when the file is focused`);
      this.opts.onStateChange?.(e.uri);
    }
  }
}
