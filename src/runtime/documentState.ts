/**
 * The fast-weight state of one open document, kept up to date incrementally. No editor API here: the
 * extension maps documents to these.
 *
 * The state is a decay-weighted sum of chunk contributions (see fastWeights.ts). Chunks are cut at line ends
 * chosen by the content (a hash of the line), so an edit moves no boundary except near itself, and each
 * chunk's contributions are cached under its tokens plus the KEY_CONTEXT tokens before it (the part of its
 * attention window that matters most). A rebuild after an edit therefore computes only the chunks whose key
 * changed: the edited one and, when the edit is within KEY_CONTEXT tokens of its end, the next one; undo and
 * re-typing find their old chunks again. Missing chunks are computed nearest the cursor first, in short
 * scheduler units, and each one counts as soon as it is done. Consecutive chunks stream through the body on
 * its exact key/value cache; a pass that starts elsewhere first feeds the WARMUP_TOKENS before it.
 */
import { BlockTokenizer, TokenizedText } from './blockTokenizer';
import {
  CompactKv,
  compactKv,
  compactKvBytes,
  expandKv,
  extendCompactKv,
  isPreciseKv,
  preciseKv,
  repackKv,
} from './compactKv';
import { CompactState } from './compactState';
import { FastWeightState, StateMode } from './fastWeights';
import { FastWeightsRuntime, KvCache } from './runtime';
import { Priority } from './scheduler';

export interface BuildOptions {
  /** Largest chunk in token positions (default 192; chunks average about 0.6 of it). */
  chunkTokens?: number;
  priority?: Priority;
  isCancelled?: () => boolean;
  /** Token positions held at most: a window around the cursor (default 32768). */
  maxTokens?: number;
  /** Character offset of the cursor: the window is centred there and nearby chunks are computed first. */
  cursorOffset?: number;
  /** Tokens before a chunk in its cache key (default KEY_CONTEXT). */
  keyContextTokens?: number;
  /** Tokens fed to the body before a recomputed chunk (default WARMUP_TOKENS). */
  warmupTokens?: number;
  /** Key/value snapshots at the chunk starts near the cursor (default true; false: always warm up). */
  snapshots?: boolean;
  /**
   * Keep what the body computed inside the chunks that start at a snapshot, so that an edit there resumes the
   * body at the edit (default true; false: the edited chunk is run again from its start).
   */
  traces?: boolean;
  /**
   * Sum the chunks farther than FINE_CHUNKS from the cursor into groups (mergeFar), to save memory, at the
   * cost of computing a group's chunks again when the cursor or an edit comes near them (default false).
   */
  groupFar?: boolean;
  /** Called with the document's tokens as soon as they are known (the file's n-gram cache counts them). */
  onTokenized?: (tokenized: TokenizedText) => void;
}

export class BuildCancelled extends Error {
  constructor() {
    super('state build cancelled');
    this.name = 'BuildCancelled';
  }
}

/**
 * Tokens before a chunk that are part of its cache key (its left context): a chunk is recomputed when an
 * edit lands this close before it. Chosen on the valid split (`npm run bench:keycontext -- data/valid-files`:
 * 40 typing sessions at line ends, the 128 tokens after the cursor scored with the state there): 16 tokens
 * cost 0.007% bits per token against a state built from scratch (64: 0.003%, 0: 0.035%) and compute 1.40
 * chunks per typing burst instead of 1.80.
 */
export const KEY_CONTEXT = 16;
/** Largest chunk in token positions when a build does not say (BuildOptions.chunkTokens). */
export const DEFAULT_CHUNK_TOKENS = 192;
/**
 * Tokens before a recomputed chunk fed to the body first, so that its first positions see a full attention
 * window. Measured on the unit-test fixtures (64-token chunks, one-line edit): the state then differs from a
 * build from scratch by about 2% (norm of the difference); with 128 tokens by 6-17%. Streaming on from a
 * warm-up is worse than keeping chunks computed with the old text around them, because the upper layers
 * carry the shortened context along, so only the edited chunk and the next one are recomputed.
 */
const WARMUP_TOKENS = 255;
/**
 * Chunks on each side of the cursor chunk whose start keeps a key/value snapshot: the WARMUP_TOKENS positions
 * before it as the body computed them. A recomputed chunk that finds its snapshot (same tokens before it)
 * starts from it instead of a warm-up pass (body work for an edit: one chunk instead of chunk + 255 tokens),
 * and it sees the context a build from scratch gives it. Stored precise (two int8 parts, compactKv.ts:
 * within 1/64,000 of each row's largest value, 1.6 MB where fp32 took 3.1) and only the cursor chunk's
 * (issue 25: with its two neighbours' too, an 800-line file held 6.3 MB more; on the valid split, typing
 * bursts then left the state 0.040% bits per token off one built from scratch, 0.046% now,
 * bench:keycontext); its neighbours and the chunks a few screens away have the int8 snapshots below.
 */
const SNAPSHOT_CHUNKS = 0;
/**
 * Chunks on each side of the cursor chunk whose start keeps a snapshot as int8 rows (compactKv.ts, 0.8 MB):
 * beyond SNAPSHOT_CHUNKS, so that an edit a few screens away skips the warm-up too. Measured on the unit-test
 * fixtures, a chunk computed from one is 0.7-0.9% off a pass from the document's start (from an fp32
 * snapshot: exact), where one computed after a warm-up is 3-10% off.
 */
const COMPACT_SNAPSHOT_CHUNKS = 12;
/**
 * Chunks on each side of the cursor chunk that also keep their trace (the chunk's hidden rows and its own
 * key/value rows, about 1.5 MB for 115 positions; the rows before it are its snapshot's): an edit in them
 * re-runs the body from the edited token, not the chunk start. The cursor chunk only: typing goes there,
 * and a cursor that rests in another chunk readies that one (prepareEdit).
 */
const TRACE_CHUNKS = 0;
/** Chunks computed in one streamed body pass at most (so that runs can be ordered by distance). */
const MAX_RUN_CHUNKS = 8;
/** Tokens fed to the body per scheduler unit. */
const BODY_SLICE = 128;
/** Chunks no longer in the document kept for undo and re-typing. */
const SPARE_CHUNKS = 16;
/** Groups an edit broke up kept for its undo (see spareGroups). */
const SPARE_GROUPS = 2;
/** Chunks weighted below this at the cursor are left out (their share of the state is about 1e-4). */
const NEGLIGIBLE_WEIGHT = 1e-4;
/** A cursor at most this many chunks away from the cached sums moves them instead of summing anew. */
const MAX_CURSOR_STEPS = 4;
/**
 * Chunks on each side of the cursor chunk that keep their own contributions when a state is folded (fold):
 * the rest are summed into one int8 state per side, so that a document not in use holds about seven
 * contributions' worth instead of two per chunk.
 */
export const FOLD_NEAR_CHUNKS = 2;

/**
 * Chunks on each side of the cursor chunk that keep both of their sums in a state in use; the others up to
 * FINE_CHUNKS keep the one the cursor sees (issue 25: 3.5 MB less for an 800-line file). A cursor moving one
 * chunk either way stays exact without computing anything, and so does one anywhere in a fold's near block
 * (FOLD_NEAR_CHUNKS = TWO_SIDED_CHUNKS + 1: the chunks at its edges face inward); a cursor two chunks on
 * makes the next build compute the chunk it is in.
 */
const TWO_SIDED_CHUNKS = 1;

/**
 * Chunks on each side of the cursor chunk that keep their own contributions in a state in use; farther ones
 * are summed into groups (mergeFar) that grow with the distance, since a chunk there weighs little at the
 * cursor and is needed one by one only when the cursor comes near it (then its group is computed again).
 */
const FINE_CHUNKS = 4;
/**
 * Largest group of summed chunks, by the distance (in chunks) of its nearest chunk from the cursor chunk. An
 * edit inside a group computes all its chunks again, so groups stay at four chunks within about 1,700
 * tokens of the cursor, where edits away from it still come often (with eight from 700 tokens on, an edit
 * 150 lines away took 203-215 ms of npm run bench's edit_readapt_ms, its p95).
 */
function groupSize(distance: number): number {
  const beyond = distance - FINE_CHUNKS;
  return beyond <= 2 ? 2 : beyond <= 10 ? 4 : beyond <= 18 ? 8 : 16;
}

/**
 * Consecutive chunks whose contributions are kept summed, as one chunk from its first position to its last
 * would be: seen from the right through fromEnd (weights lambda^(last - s)), from the left through fromStart.
 * Exact for a cursor on the side it was summed for; a cursor inside it or beyond it needs its chunks again.
 */
interface ChunkGroup {
  keys: string[];
  /**
   * The side of the cursor chunk the group lay on when it was summed: only the sum seen from there is kept
   * (fromEnd for a group on the left, fromStart on the right; the other is empty), half the bytes of both
   * (issue 25). A cursor that crosses the group makes the next build compute its chunks again; until then
   * the kept sum stands in for the missing one (the same total weight, the positions weighted in reverse).
   */
  side: 'left' | 'right';
  /** Each sum as parts to add (int8 rows). */
  fromEnd: CompactState[];
  fromStart: CompactState[];
  tokens: number;
}
/**
 * A folded state: the chunks of the near block (the cursor chunk and FOLD_NEAR_CHUNKS on each side) keep
 * their contributions; the others are summed, decay-weighted as seen from the block's edges. Exact for a
 * cursor inside the block (up to the int8 rounding of the two sums); elsewhere, or after an edit, a rebuild
 * computes the folded chunks again (unfolding the state).
 */
interface FoldedSums {
  /** Keys of the near block's chunks, and the positions its first and last chunk had. */
  near: ReadonlySet<string>;
  from: number;
  to: number;
  /** Keys of the folded chunks (their contributions are in `left` or `right` only). */
  folded: ReadonlySet<string>;
  /**
   * sum over folded chunks j before the block of lambda^(from - 1 - last_j) fromEnd_j, as parts to add (the
   * int8 sum and the int8 rounding error of it).
   */
  left: CompactState[];
  /** sum over folded chunks j after the block of lambda^(first_j - to - 1) fromStart_j, likewise. */
  right: CompactState[];
}

interface ChunkLayout {
  key: string;
  /** First and last token position (inclusive; position 0 is bos). */
  first: number;
  last: number;
}

/**
 * A chunk's own contributions. Both weightings are computed together; a chunk farther than
 * TWO_SIDED_CHUNKS from the cursor chunk keeps only the one the cursor sees (trimFar), as groups do, and a
 * build computes it again once the cursor is at it or beyond it (crossedChunks).
 */
interface ChunkContributions {
  /** sum_s lambda^(last - s) c_s */
  fromEnd?: CompactState;
  /** sum_s lambda^(s - first) c_s */
  fromStart?: CompactState;
  tokens: number;
}

/**
 * A chunk's sum as a cursor on `side` of it sees it (left: fromEnd, right: fromStart), or the other one in
 * its stead where only that is kept (until a build computes the chunk again, see ChunkContributions).
 */
function seenAs(c: ChunkContributions, side: 'left' | 'right'): CompactState {
  return side === 'left' ? (c.fromEnd ?? c.fromStart!) : (c.fromStart ?? c.fromEnd!);
}

interface KvSnapshot {
  kv: KvCache | CompactKv;
  /** Position the snapshot's keys were computed for (the chunk start then; RoPE sees distances only). */
  at: number;
  /**
   * Whether the pass that computed it began at the document's start (else at a warm-up, whose first positions
   * lacked their context): a pass from the start replaces such a snapshot and its trace where it ends.
   */
  exact: boolean;
  /** What the body computed in the chunk that started here, when it was near the cursor. */
  trace?: ChunkTrace;
}

/**
 * The body's pass over one chunk, kept so that a later pass over an edited version of the chunk can start at
 * the first changed token: the positions before it see the same tokens, so their hidden rows and keys and
 * values are the same.
 */
interface ChunkTrace {
  /** The chunk's input ids then. */
  ids: number[];
  /** Their hidden rows, [ids.length, d]. */
  hidden: Float32Array;
  /**
   * The key/value rows of the chunk's positions 0..rows.length-1 that still saw the same tokens (an edit cuts
   * them at the first changed token); those before the chunk are in the snapshot the trace belongs to.
   */
  rows: KvCache;
}

/** Chunk starts (snapshot keys) where a pass keeps a snapshot, precise in `fp32` (else int8), and a trace. */
interface RunKeys {
  snapshot: ReadonlySet<string>;
  fp32: ReadonlySet<string>;
  trace: ReadonlySet<string>;
}

/**
 * A group's sum as a cursor on `side` of it sees it: the kept one, or where the group was summed for the
 * other side, that one in its stead (see ChunkGroup.side).
 */
function seenFrom(g: ChunkGroup, side: 'left' | 'right'): CompactState[] {
  const wanted = side === 'left' ? g.fromEnd : g.fromStart;
  return wanted.length > 0 ? wanted : side === 'left' ? g.fromStart : g.fromEnd;
}

function isCompact(kv: KvCache | CompactKv): kv is CompactKv {
  return 'pieces' in kv;
}

/** Whether a snapshot is int8 rows alone (not fp32, nor precise: see compactKv.ts). */
function isLossy(kv: KvCache | CompactKv): kv is CompactKv {
  return isCompact(kv) && !isPreciseKv(kv);
}

function fullKv(kv: KvCache | CompactKv): KvCache {
  return isCompact(kv) ? expandKv(kv) : kv;
}

/** A continued body pass: its key/value cache and the position offset its run was computed with. */
interface RunEnd {
  end: number;
  past: KvCache;
  shift: number;
  exact: boolean;
  /** The last int8 snapshot the run kept, and the position it ends at (the next one shares its rows). */
  compact: { kv: CompactKv; end: number } | undefined;
}

interface CursorCache {
  chunk: number;
  mode: StateMode;
  /** Left part as seen from the first position of the cursor chunk. */
  left: FastWeightState;
  /** Right part as seen from the last position of the cursor chunk. */
  right: FastWeightState;
  first: number;
  last: number;
  /** Chunks leftEdge..chunk-1 and chunk+1..rightEdge are in the sums. */
  leftEdge: number;
  rightEdge: number;
}

/**
 * Chunk layout of the token positions 0..n-1 of `[bos, ...ids]`, cut at block (line) ends chosen by content.
 *
 * A block end is a cut when its block's hash is the smallest among the block ends within `chunkTokens / 3`
 * tokens on either side (the earlier one on a tie) and the document's start and end are farther than that.
 * That decision reads only the blocks that close, so an edit moves no cut farther than that from itself, and
 * cuts are more than that far apart. (The rule before cut at every fourth hash once a chunk had half its
 * size: after an edit that moved one cut, every later cut could move too until the two layouts met again;
 * on the valid split 7.5% of one-line edits changed more than two chunks, one of them 31.) A stretch between
 * two cuts longer than `chunkTokens` is split evenly at block ends, and a block longer than that (a minified
 * line) every `chunkTokens` positions: both depend on that stretch alone.
 */
export function layoutChunks(
  tokenized: TokenizedText,
  chunkTokens: number,
): { first: number; end: number }[] {
  const n = tokenized.ids.length; // positions 0..n-1 (position i predicts ids[i], 1-based in the ids)
  const blocks = tokenized.blocks;
  const radius = Math.max(1, Math.round(chunkTokens / 3));
  // Position after each block's last token.
  const ends = blocks.map((b) => Math.min(n, 1 + b.firstToken + b.ids.length));
  const hashes = blocks.map((b) => b.hash);
  const isCut = (i: number): boolean => {
    const h = hashes[i]!;
    // The document's start and end count as cuts too (no sliver of a chunk there; both depend only on the
    // tokens between them and this block).
    if (ends[i]! <= radius || ends[i]! >= n - radius) return false;
    for (let j = i - 1; j >= 0 && ends[i]! - ends[j]! <= radius; j--) if (hashes[j]! <= h) return false;
    for (let j = i + 1; j < blocks.length && ends[j]! - ends[i]! <= radius; j++)
      if (hashes[j]! < h) return false;
    return true;
  };
  const out: { first: number; end: number }[] = [];
  let first = 0;
  let next = 0; // first block end after `first`
  const cutAt = (end: number): void => {
    if (end > first) out.push({ first, end });
    first = end;
    while (next < ends.length && ends[next]! <= first) next++;
  };
  for (let i = 0; i <= blocks.length; i++) {
    const stop = i < blocks.length ? ends[i]! : n;
    if (i < blocks.length && !isCut(i)) continue;
    // Split the stretch first..stop evenly: each piece ends at the block end nearest an even share of what
    // is left, within chunkTokens (inside a block longer than that, chunkTokens on).
    while (stop - first > chunkTokens) {
      const target = first + (stop - first) / Math.ceil((stop - first) / chunkTokens);
      let best = -1;
      for (let j = next; j < ends.length && ends[j]! <= first + chunkTokens && ends[j]! < stop; j++) {
        if (best < 0 || Math.abs(ends[j]! - target) < Math.abs(ends[best]! - target)) best = j;
      }
      cutAt(best >= 0 ? ends[best]! : first + chunkTokens);
    }
    cutAt(stop);
  }
  return out;
}

export class DocumentState {
  private readonly blocks: BlockTokenizer;
  /** Current layout, in position order. */
  private layout: ChunkLayout[] = [];
  /** Contributions by chunk key: those of the current layout plus a few spare ones. */
  private readonly computed = new Map<string, ChunkContributions>();
  /** The group each summed chunk belongs to, by chunk key (see ChunkGroup). */
  private readonly groupOf = new Map<string, ChunkGroup>();
  /**
   * Chunks of groups an edit broke up (setLayout): computed again by the next build, they stay their own
   * until the build after it, so that undoing an edit far from the cursor finds them (only the edited chunk
   * is computed again) instead of a group made of them, which the undo would break up again.
   */
  private readonly editedGroups = new Set<string>();
  /** Groups an edit broke up, kept for its undo: one whose chunks all come back, in order, counts again. */
  private spareGroups: ChunkGroup[] = [];
  private spare: string[] = [];
  /** Key/value snapshots at chunk starts near the cursor, by the tokens before the chunk. */
  private snapshots = new Map<string, KvSnapshot>();
  private tokenized: TokenizedText | undefined;
  private cursorCache: CursorCache | undefined;
  /** Set while the state is folded (fold()); a rebuild that computes every chunk again clears it. */
  private foldedSums: FoldedSums | undefined;
  /** Index of the chunk at the cursor of the last build or query (where a fold keeps chunks). */
  private cursorChunk = 0;
  /** Text the current state was built from. */
  builtText: string | undefined;
  builtAt = 0;
  buildMs = 0;
  /** Chunks computed (not found in the cache) by the last build. */
  lastBuildComputed = 0;
  /** Token positions the body ran on in the last build (warm-ups included). */
  lastBuildBodyTokens = 0;

  constructor(private readonly rt: FastWeightsRuntime) {
    this.blocks = new BlockTokenizer(rt.tokenizer);
  }

  /** Number of token positions whose contributions the state holds (0 after a reset). */
  get tokenCount(): number {
    let n = 0;
    const folded = this.foldedSums?.folded;
    for (const c of this.layout) {
      const summed = folded?.has(c.key) || this.groupOf.has(c.key);
      n += this.computed.get(c.key)?.tokens ?? (summed ? c.last - c.first + 1 : 0);
    }
    return n;
  }

  get chunkCount(): number {
    return this.layout.length;
  }

  /** Where byteLength goes: chunk contributions (spare ones apart), key/value snapshots, traces, sums. */
  get bytesByPart(): Record<'contributions' | 'spare' | 'snapshots' | 'traces' | 'sums', number> {
    const spare = new Set(this.spare);
    const parts = { contributions: 0, spare: 0, snapshots: 0, traces: 0, sums: 0 };
    for (const [key, c] of this.computed) {
      parts[spare.has(key) ? 'spare' : 'contributions'] +=
        (c.fromEnd?.byteLength ?? 0) + (c.fromStart?.byteLength ?? 0);
    }
    const groupBytes = (g: ChunkGroup): number =>
      sum([...g.fromEnd, ...g.fromStart].map((x) => x.byteLength));
    for (const g of new Set(this.groupOf.values())) parts.contributions += groupBytes(g);
    for (const g of this.spareGroups) parts.spare += groupBytes(g);
    const compact: CompactKv[] = [];
    for (const sn of this.snapshots.values()) {
      if (isCompact(sn.kv)) compact.push(sn.kv);
      else parts.snapshots += kvBytes(sn.kv);
      if (sn.trace) parts.traces += sn.trace.hidden.byteLength + kvBytes(sn.trace.rows);
    }
    parts.snapshots += compactKvBytes(...compact); // (blocks shared by snapshots counted once)
    const f = this.foldedSums;
    if (f) parts.sums += sum([...f.left, ...f.right].map((x) => x.byteLength));
    const cc = this.cursorCache;
    if (cc) parts.sums += cc.left.byteLength + cc.right.byteLength;
    return parts;
  }

  get byteLength(): number {
    return sum(Object.values(this.bytesByPart));
  }

  /** Whether the state is folded (see fold); a rebuild computes the folded chunks again. */
  get isFolded(): boolean {
    return this.foldedSums !== undefined;
  }

  /**
   * Folds the state of a document not in use: the chunks more than FOLD_NEAR_CHUNKS from the cursor chunk are
   * summed into one int8 state on each side and their contributions freed, as are the snapshots, traces and
   * spare chunks. The state at a cursor in the near block stays what it was (up to the rounding of the two
   * sums); a rebuild (an edit, or a cursor that leaves the block) computes the folded chunks again. Only a
   * complete state folds. Returns whether it folded.
   */
  fold(): boolean {
    const layout = this.layout;
    const f = this.foldedSums;
    if (f) {
      // Folded already: free what a cancelled rebuild computed of the folded chunks (the sums hold them).
      const extra = [...this.computed.keys()].filter((k) => !f.near.has(k));
      for (const key of extra) this.computed.delete(key);
      this.snapshots.clear();
      return extra.length > 0;
    }
    if (layout.length === 0 || layout.some((c) => !this.covered(c))) return false;
    const lam = this.rt.config.fwl.decay;
    const c = Math.min(Math.max(this.cursorChunk, 0), layout.length - 1);
    if (!this.computed.has(layout[c]!.key)) return false;
    // The near block: chunks of their own only (those in a group are summed with it).
    let a = c;
    while (a > 0 && a > c - FOLD_NEAR_CHUNKS && this.computed.has(layout[a - 1]!.key)) a--;
    let b = c;
    while (b < layout.length - 1 && b < c + FOLD_NEAR_CHUNKS && this.computed.has(layout[b + 1]!.key)) b++;
    const from = layout[a]!.first;
    const to = layout[b]!.last;
    const sideSum = (indices: number[], weight: (x: ChunkLayout) => number, right: boolean) => {
      const terms: { state: CompactState; w: number }[] = [];
      for (const j of indices) {
        const w = weight(layout[j]!);
        if (w < NEGLIGIBLE_WEIGHT) break;
        const parts = right ? this.rightParts(layout[j]!) : this.leftParts(layout[j]!);
        for (const part of parts) terms.push({ state: part, w });
      }
      if (terms.length === 0) return [];
      const sum = this.rt.newState();
      CompactState.accumulate(sum, terms);
      // Two int8 parts (a single int8 rounding of the sum was 0.6% off the state at the cursor, its norm).
      return CompactState.parts(sum, true);
    };
    const before = Array.from({ length: a }, (_, k) => a - 1 - k);
    const after = Array.from({ length: layout.length - 1 - b }, (_, k) => b + 1 + k);
    const near = new Set(layout.slice(a, b + 1).map((x) => x.key));
    this.foldedSums = {
      near,
      from,
      to,
      folded: new Set(layout.filter((x) => !near.has(x.key)).map((x) => x.key)),
      left: sideSum(before, (x) => Math.pow(lam, from - 1 - x.last), false),
      right: sideSum(after, (x) => Math.pow(lam, x.first - to - 1), true),
    };
    for (const key of [...this.computed.keys()]) if (!near.has(key)) this.computed.delete(key);
    this.groupOf.clear();
    this.editedGroups.clear();
    this.spareGroups = [];
    this.spare = [];
    this.cursorCache = undefined;
    this.snapshots.clear();
    return true;
  }

  /** Whether a cursor at `cursorOffset` lies in a folded state's near block (where the fold is exact). */
  foldCovers(cursorOffset: number): boolean {
    const block = this.tokenized && this.nearBlock();
    if (!block) return false;
    const t = this.blocks.tokensBefore(this.tokenized!, cursorOffset);
    return t >= this.layout[block.a]!.first && t <= this.layout[block.b]!.last;
  }

  /** The layout indices of a folded state's near block now (its chunks found nearest their old places). */
  private nearBlock(): { a: number; b: number } | undefined {
    const f = this.foldedSums;
    if (!f) return undefined;
    let a = -1;
    let b = -1;
    this.layout.forEach((x, i) => {
      if (!f.near.has(x.key)) return;
      if (a < 0 || Math.abs(x.first - f.from) < Math.abs(this.layout[a]!.first - f.from)) a = i;
      if (b < 0 || Math.abs(x.last - f.to) < Math.abs(this.layout[b]!.last - f.to)) b = i;
    });
    return a >= 0 && b >= a ? { a, b } : undefined;
  }

  /**
   * The state at t of a folded document: the near block's chunks one by one (the chunk holding t left out),
   * plus the two folded sums weighted by their distance to t. A t outside the block counts as at its nearer
   * edge (an approximation until the rebuild that a cursor there starts has computed the chunks).
   */
  private foldedStateAt(t: number, mode: StateMode): FastWeightState {
    const f = this.foldedSums!;
    const lam = this.rt.config.fwl.decay;
    const state = this.rt.newState();
    const block = this.nearBlock();
    const terms: { state: CompactState; w: number }[] = [];
    if (block) {
      const from = this.layout[block.a]!.first;
      const to = this.layout[block.b]!.last;
      const u = Math.min(Math.max(t, from), to);
      for (let j = block.a; j <= block.b; j++) {
        const x = this.layout[j]!;
        const contributions = this.computed.get(x.key);
        if (!contributions || (u >= x.first && u <= x.last)) continue;
        if (x.last < u)
          terms.push({ state: seenAs(contributions, 'left'), w: Math.pow(lam, u - 1 - x.last) });
        else if (mode === 'whole_file')
          terms.push({ state: seenAs(contributions, 'right'), w: Math.pow(lam, x.first - u - 1) });
      }
      for (const part of f.left) terms.push({ state: part, w: Math.pow(lam, u - from) });
      if (mode === 'whole_file')
        for (const part of f.right) terms.push({ state: part, w: Math.pow(lam, to - u) });
    }
    if (terms.length > 0) CompactState.accumulate(state, terms);
    return state;
  }

  reset(): void {
    this.foldedSums = undefined;
    this.layout = [];
    this.computed.clear();
    this.groupOf.clear();
    this.editedGroups.clear();
    this.spareGroups = [];
    this.spare = [];
    this.tokenized = undefined;
    this.blocks.clear();
    this.cursorCache = undefined;
    this.snapshots.clear();
    this.builtText = undefined;
  }

  /** Whether summed sides at the cursor are kept (the next query there adds no chunk sums). */
  get hasCursorState(): boolean {
    return this.cursorCache !== undefined;
  }

  /** Frees the summed state at the cursor (rebuilt on the next query); for documents not in use. */
  dropCursorCache(): void {
    this.cursorCache = undefined;
    this.snapshots.clear();
  }

  /**
   * Brings the state up to date with `text`, computing only chunks not in the cache. Chunks count as soon as
   * they are computed; a cancelled build keeps what it computed for the next one.
   */
  async rebuild(text: string, options: BuildOptions = {}): Promise<void> {
    const rt = this.rt;
    const t0 = performance.now();
    const chunkTokens = options.chunkTokens ?? DEFAULT_CHUNK_TOKENS;
    const maxTokens = options.maxTokens ?? 32768;
    const check = (): void => {
      if (options.isCancelled?.()) throw new BuildCancelled();
    };
    check();
    const tokenized = this.blocks.tokenize(text);
    options.onTokenized?.(tokenized);
    const ids = [rt.config.bos_token_id].concat(tokenized.ids); // (a spread of some 40,000 ids took 2 ms)
    const cursor =
      options.cursorOffset === undefined ? 0 : this.blocks.tokensBefore(tokenized, options.cursorOffset);
    const all = layoutChunks(tokenized, chunkTokens);
    const window = pickWindow(all, cursor, maxTokens, this.layout);
    const layout: ChunkLayout[] = window.map((c) => ({
      first: c.first,
      last: c.end - 1,
      key: ids.slice(Math.max(0, c.first - (options.keyContextTokens ?? KEY_CONTEXT)), c.end + 1).join(','),
    }));
    this.setLayout(layout, tokenized);
    this.lastBuildComputed = 0;
    this.lastBuildBodyTokens = 0;
    // (A cursor after the last chunk, at the document's end, is nearest to that chunk.)
    const found = layout.findIndex((c) => c.last >= cursor);
    const cursorChunk = found >= 0 ? found : Math.max(0, layout.length - 1);
    this.cursorChunk = cursorChunk;
    // The chunks near the cursor one by one again, and those of groups the cursor crossed: their groups
    // are computed anew.
    for (let i = cursorChunk - FINE_CHUNKS; i <= cursorChunk + FINE_CHUNKS; i++) {
      const g = i >= 0 && i < layout.length ? this.groupOf.get(layout[i]!.key) : undefined;
      if (g) this.dissolve(g);
    }
    for (const g of this.crossedGroups(cursorChunk)) this.dissolve(g);
    const crossed = this.crossedChunks(cursorChunk);
    for (const key of crossed) this.computed.delete(key);
    if (crossed.length > 0) this.cursorCache = undefined;
    const missing = layout.map((c, i) => (this.covered(c) ? -1 : i)).filter((i) => i >= 0);
    // A run that starts where the previous one ended continues its key/value cache (exact, no warm-up).
    // Runs alternate between both sides of the cursor, so keep the ends of the last two.
    let ends: RunEnd[] = [];
    const keys = { snapshot: new Set<string>(), fp32: new Set<string>(), trace: new Set<string>() };
    const reach = options.snapshots === false ? -1 : COMPACT_SNAPSHOT_CHUNKS;
    const fp32Reach = Math.min(reach, SNAPSHOT_CHUNKS);
    const traceReach = options.traces === false ? -1 : Math.min(reach, TRACE_CHUNKS);
    for (let i = cursorChunk - reach; i <= cursorChunk + reach; i++) {
      if (i < 0 || i >= layout.length) continue;
      const key = this.snapshotKey(ids, layout[i]!.first);
      keys.snapshot.add(key);
      if (Math.abs(i - cursorChunk) <= fp32Reach) keys.fp32.add(key);
      if (Math.abs(i - cursorChunk) <= traceReach) keys.trace.add(key);
    }
    for (const [key, sn] of [...this.snapshots]) {
      if (!keys.snapshot.has(key)) this.snapshots.delete(key);
      else if (!keys.trace.has(key)) sn.trace = undefined;
    }
    this.compactSnapshots(keys.fp32);
    for (const run of orderRuns(missing, cursorChunk)) {
      const chunks = run.map((i) => layout[i]!);
      const carried = ends.find((e) => e.end === chunks[0]!.first);
      ends = [await this.computeRun(ids, chunks, options, carried, keys), ...ends].slice(0, 2);
    }
    check();
    // Every chunk computed again: the folded sums are no longer needed (the cursor sums start afresh).
    if (this.foldedSums && layout.every((c) => this.covered(c))) {
      this.foldedSums = undefined;
      this.cursorCache = undefined;
    }
    if (!this.foldedSums && options.groupFar) {
      this.mergeFar(cursorChunk, this.editedGroups);
      this.trimFar(cursorChunk);
      this.editedGroups.clear();
      this.dropSnapshotsInGroups(ids);
    }
    this.repackSnapshots();
    this.builtText = text;
    this.builtAt = Date.now();
    this.buildMs = performance.now() - t0;
  }

  private setLayout(layout: ChunkLayout[], tokenized: TokenizedText): void {
    const knownBefore = new Set(this.computed.keys());
    const keep = new Set(layout.map((c) => c.key));
    for (const c of this.layout) if (!keep.has(c.key) && this.computed.has(c.key)) this.spare.push(c.key);
    this.spare = this.spare.filter((k, i, a) => !keep.has(k) && a.indexOf(k) === i);
    while (this.spare.length > SPARE_CHUNKS) this.computed.delete(this.spare.shift()!);
    for (const key of [...this.computed.keys()]) {
      if (!keep.has(key) && !this.spare.includes(key)) this.computed.delete(key);
    }
    const previous = this.layout;
    // Sums made with a cursor inside a group hold it approximately (stateAt): not carried over.
    const c = this.cursorCache;
    if (c && this.groupOf.has(previous[c.chunk]?.key ?? '')) this.cursorCache = undefined;
    this.layout = layout;
    this.tokenized = tokenized;
    // A group whose chunks are no longer all there, in order, is computed again chunk by chunk.
    const at = new Map(layout.map((c, i) => [c.key, i]));
    const whole = (g: ChunkGroup): boolean => {
      const i = at.get(g.keys[0]!);
      return i !== undefined && g.keys.every((k, j) => layout[i + j]?.key === k);
    };
    for (const g of new Set(this.groupOf.values())) {
      if (whole(g)) continue;
      this.dissolve(g);
      for (const key of g.keys) this.editedGroups.add(key);
      this.spareGroups.push(g);
    }
    // An undo: a spare group whose chunks are all back counts again, instead of their own contributions.
    for (const g of [...this.spareGroups]) {
      if (!whole(g) || g.keys.some((k) => this.groupOf.has(k))) continue;
      this.spareGroups = this.spareGroups.filter((x) => x !== g);
      for (const key of g.keys) {
        this.groupOf.set(key, g);
        this.computed.delete(key);
        this.editedGroups.delete(key);
      }
      this.cursorCache = undefined;
    }
    while (this.spareGroups.length > SPARE_GROUPS) this.spareGroups.shift();
    this.cursorCache = this.cursorCache && this.carryCursorCache(this.cursorCache, previous, knownBefore);
  }

  /**
   * The summed state at the cursor, carried over to a new layout, exactly. Walking each side outward from the
   * cursor chunk, its chunks split into near ones (same keys at the same distances), the chunks around an
   * edit (their contributions swapped: the old ones out now, the new ones in now or when computed), and far
   * ones (same keys, all moved by the same number of tokens, which the edit added or removed between them
   * and the cursor): their weights change by lambda^delta, applied chunk by chunk or as the whole sum
   * rescaled around the near part, whichever takes fewer chunk terms. A side that does not line up is summed
   * afresh; undefined when the cursor chunk is not found.
   */
  private carryCursorCache(
    c: CursorCache,
    previous: readonly ChunkLayout[],
    knownBefore: ReadonlySet<string>,
  ): CursorCache | undefined {
    const layout = this.layout;
    // Where the chunk next to the cursor chunk is now (of equal chunks, the one nearest its old position:
    // indices move when the window does, positions only by what an edit added or removed).
    const find = (j: number): number | undefined => {
      const old = previous[j];
      let best: number | undefined;
      layout.forEach((x, i) => {
        const nearer =
          best === undefined || Math.abs(x.first - old!.first) < Math.abs(layout[best]!.first - old!.first);
        if (x.key === old?.key && nearer) best = i;
      });
      return best;
    };
    const left = c.chunk > 0 ? find(c.chunk - 1) : undefined;
    const right = c.chunk + 1 < previous.length ? find(c.chunk + 1) : undefined;
    // Of the two neighbours, the one found nearer its old place (an edited neighbour can match a repeat of
    // its old text far away).
    const fromLeft = left !== undefined ? left + 1 : undefined;
    const fromRight = right !== undefined ? right - 1 : undefined;
    const moved = (i: number | undefined): number => (i === undefined ? Infinity : Math.abs(i - c.chunk));
    const n = moved(fromLeft) <= moved(fromRight) ? fromLeft : fromRight;
    if (n === undefined || c.chunk < 0 || c.chunk >= previous.length || n < 0 || n >= layout.length) return;
    const cursor = layout[n]!;
    const leftCount =
      c.chunk > c.leftEdge
        ? this.carrySide(
            c.left,
            previous.slice(c.leftEdge, c.chunk).reverse(),
            layout.slice(0, n).reverse(),
            (x) => c.first - 1 - x.last,
            (x) => cursor.first - 1 - x.last,
            (x) => this.leftParts(x),
            knownBefore,
          )
        : 0;
    const rightCount =
      c.mode !== 'whole_file'
        ? 0
        : c.rightEdge > c.chunk
          ? this.carrySide(
              c.right,
              previous.slice(c.chunk + 1, c.rightEdge + 1),
              layout.slice(n + 1),
              (x) => x.first - c.last - 1,
              (x) => x.first - cursor.last - 1,
              (x) => this.rightParts(x),
              knownBefore,
            )
          : 0;
    const carried: CursorCache = {
      chunk: n,
      mode: c.mode,
      left: leftCount !== undefined ? c.left : c.left.setZero(),
      right: rightCount !== undefined ? c.right : c.right.setZero(),
      first: cursor.first,
      last: cursor.last,
      leftEdge: n - (leftCount ?? 0),
      rightEdge: n + (rightCount ?? 0),
    };
    // Chunks beyond the edges that now weigh enough (the same rule as a fresh sum).
    this.extendLeft(carried);
    if (carried.mode === 'whole_file') this.extendRight(carried);
    return carried;
  }

  /**
   * Carries one side's sum (see carryCursorCache). `before`: the chunks in the sum, outward from the old
   * cursor chunk; `after`: the new layout's chunks on that side, outward. Returns how many of `after` the sum
   * now covers, or undefined when the side must be summed afresh.
   */
  private carrySide(
    sum: FastWeightState,
    before: readonly ChunkLayout[],
    after: readonly ChunkLayout[],
    oldDistance: (x: ChunkLayout) => number,
    newDistance: (x: ChunkLayout) => number,
    parts: (x: ChunkLayout) => CompactState[],
    knownBefore: ReadonlySet<string>,
  ): number | undefined {
    const lam = this.rt.config.fwl.decay;
    const count = before.length;
    let near = 0;
    while (
      near < count &&
      near < after.length &&
      before[near]!.key === after[near]!.key &&
      oldDistance(before[near]!) === newDistance(after[near]!)
    ) {
      near++;
    }
    if (near === count) return count;
    // The old edge chunk in the new layout; from there inward, the far chunks.
    const edge = count - 1;
    let at: number | undefined;
    for (let i = near; i < after.length; i++) {
      if (
        after[i]!.key === before[edge]!.key &&
        (at === undefined || Math.abs(i - edge) < Math.abs(at - edge))
      ) {
        at = i;
      }
    }
    if (at === undefined) return;
    const offset = at - edge;
    const delta = newDistance(after[at]!) - oldDistance(before[edge]!);
    let far = 0;
    while (far < count - near) {
      const o = before[edge - far]!;
      const x = after[edge - far + offset];
      if (edge - far + offset < near || !x || x.key !== o.key || newDistance(x) - oldDistance(o) !== delta)
        break;
      far++;
    }
    const oldMiddle = before.slice(near, count - far);
    const newMiddle = after.slice(near, count - far + offset);
    if (far === 0 || count - far + offset < near) return;
    // A contribution in the sum that is gone from the cache cannot be taken out again.
    if (oldMiddle.some((a) => !this.computed.has(a.key) && knownBefore.has(a.key))) return;
    // (Nor one summed with its group: the group would have to go with it.)
    if ([...oldMiddle, ...newMiddle].some((x) => this.groupOf.has(x.key))) return;
    // One batch of chunk terms (CompactState.accumulate): the sum is read and written once.
    const terms: { state: CompactState; w: number }[] = [];
    const add = (x: ChunkLayout, w: number): void => {
      for (const state of parts(x)) terms.push({ state, w });
    };
    let scale = 1;
    for (const a of oldMiddle) add(a, -Math.pow(lam, oldDistance(a)));
    if (delta !== 0) {
      const rescale = Math.pow(lam, delta);
      if (far <= near) {
        for (let k = 0; k < far; k++) {
          const o = before[edge - k]!;
          add(o, (rescale - 1) * Math.pow(lam, oldDistance(o)));
        }
      } else {
        // rescale * (sum - near - old middle) + near + new middle: the whole sum rescaled around the near part.
        scale = rescale;
        for (const t of terms) t.w *= rescale;
        for (let k = 0; k < near; k++)
          add(before[k]!, (1 - rescale) * Math.pow(lam, oldDistance(before[k]!)));
      }
    }
    for (const b of newMiddle) add(b, Math.pow(lam, newDistance(b)));
    CompactState.accumulate(sum, terms, scale);
    return count + offset;
  }

  /**
   * A chunk just computed: the summed cursor state gains it where it lies inside the summed range (it was
   * missing when the sums were made); the cursor chunk itself is not in the sums, and chunks beyond the
   * edges weigh under NEGLIGIBLE_WEIGHT.
   */
  private addToCursorCache(key: string, contributions: ChunkContributions): void {
    const c = this.cursorCache;
    if (!c) return;
    const lam = this.rt.config.fwl.decay;
    this.layout.forEach((x, j) => {
      if (x.key !== key) return;
      if (j >= c.leftEdge && j < c.chunk) {
        seenAs(contributions, 'left').addScaledTo(c.left, Math.pow(lam, c.first - 1 - x.last));
      } else if (c.mode === 'whole_file' && j > c.chunk && j <= c.rightEdge) {
        seenAs(contributions, 'right').addScaledTo(c.right, Math.pow(lam, x.first - c.last - 1));
      }
    });
  }

  /** The tokens a chunk starting at `first` sees in its attention window (its snapshot's key). */
  private snapshotKey(ids: readonly number[], first: number): string {
    return ids.slice(Math.max(0, first - this.rt.maxPast), first).join(',');
  }

  /**
   * Computes consecutive chunks in one streamed body pass: continuing a previous pass, else from the snapshot
   * at the first chunk's start (from its first changed token when the snapshot holds a trace of the chunk),
   * else warmed up on the tokens before it. Records snapshots at the starts of the chunks in `keys.snapshot`
   * (int8 unless in `keys.fp32`), and traces of the chunks in `keys.trace`.
   */
  private async computeRun(
    ids: number[],
    chunks: ChunkLayout[],
    options: BuildOptions,
    carried: RunEnd | undefined,
    keys: RunKeys,
    bodyOnly = false,
  ): Promise<RunEnd> {
    const rt = this.rt;
    const d = rt.config.d_model;
    const dh = rt.config.head_dim;
    const lam = rt.config.fwl.decay;
    const priority = options.priority ?? 'background';
    const unit = <R>(fn: () => Promise<R>): Promise<R> => {
      if (options.isCancelled?.()) throw new BuildCancelled();
      return rt.scheduler.run(priority, async () => {
        if (options.isCancelled?.()) throw new BuildCancelled();
        return fn();
      });
    };
    // The pass's last int8 snapshot: the next one (positions end - past.length .. end) shares its rows.
    let compact: RunEnd['compact'] = carried?.compact;
    const keep = (key: string, kv: KvCache, end: number): KvCache | CompactKv => {
      if (keys.fp32.has(key)) return preciseKv(kv, dh);
      const start = end - kv.length;
      const prev = compact;
      const prevStart = prev ? prev.end - prev.kv.length : 0;
      const shares = prev && prev.end <= end && prev.end > start && prevStart <= start;
      const out = shares
        ? extendCompactKv(prev.kv, start - prevStart, rt.sliceKv(kv, prev.end - start, kv.length), dh)
        : compactKv(kv, dh);
      compact = { kv: out, end };
      return out;
    };
    const warmup = options.warmupTokens ?? WARMUP_TOKENS;
    const first = chunks[0]!.first;
    const startKey = this.snapshotKey(ids, first);
    // (Near the document's start a warm-up is a pass from the start: exact, where an int8 snapshot is not.)
    const usable = (sn: KvSnapshot | undefined, at: number): sn is KvSnapshot =>
      sn !== undefined && !(isLossy(sn.kv) && at <= warmup);
    const found = carried ? undefined : this.snapshots.get(startKey);
    const snapshot = usable(found, first) ? found : undefined;
    // Without one there (an edit just before changed the tokens it was keyed by), the nearest earlier chunk
    // start closer than the warm-up that has one: fewer body positions than a warm-up, and a full context.
    const earlier = carried || snapshot ? undefined : this.snapshotBefore(ids, first, warmup, usable);
    const from = carried || snapshot ? first : (earlier?.at ?? Math.max(0, first - warmup));
    const to = chunks[chunks.length - 1]!.last + 1;
    const hidden = new Float32Array((to - from) * d);
    const start = snapshot ?? earlier?.snapshot;
    let past: KvCache = carried?.past ?? (start ? fullKv(start.kv) : rt.emptyKv());
    // Positions are fed shifted so that the snapshot's keys keep their distances to the new queries.
    const shift = carried?.shift ?? (start ? start.at - from : 0);
    if (!carried && start && isLossy(start.kv)) compact = { kv: start.kv, end: from };
    const exact = carried?.exact ?? start?.exact ?? from === 0;
    let done = from; // positions whose hidden states are known
    // The trace being recorded for the current chunk, attached to its snapshot once the chunk is done.
    let trace: { key: string; trace: ChunkTrace } | undefined;
    const resumed = snapshot?.trace && this.resumeTrace(snapshot, ids, chunks[0]!);
    if (snapshot && resumed) {
      hidden.set(snapshot.trace!.hidden.subarray(0, resumed.at * d));
      past = resumed.past;
      done = first + resumed.at;
      trace = { key: startKey, trace: resumed.trace };
      snapshot.trace = undefined; // until the chunk is done (a cancelled pass leaves no half-new trace)
    }
    for (const chunk of chunks) {
      while (done <= chunk.last) {
        if (done === chunk.first) {
          const key = this.snapshotKey(ids, done);
          // (The snapshot the pass started from stays as it is, unless it is int8 where fp32 is wanted.)
          const same = snapshot && done === first && isLossy(snapshot.kv) === !keys.fp32.has(key);
          if (keys.snapshot.has(key) && !same)
            this.snapshots.set(key, { kv: keep(key, past, done), at: done + shift, exact });
          if (keys.trace.has(key)) {
            const fresh = {
              ids: ids.slice(chunk.first, chunk.last + 1),
              hidden: new Float32Array(0),
              rows: rt.emptyKv(),
            };
            trace = { key, trace: fresh };
          }
        }
        // Slices end at chunk starts and ends, so that the cache at each chunk start is at hand.
        const stop = done < chunk.first ? chunk.first : chunk.last + 1;
        const part = ids.slice(done, Math.min(done + BODY_SLICE, stop));
        const at = done;
        const r = await unit(() => rt.body(part, at + shift, past));
        this.lastBuildBodyTokens += part.length;
        hidden.set(r.hidden, (at - from) * d);
        if (trace && at >= chunk.first) {
          const n = r.present.length;
          const own = rt.sliceKv(r.present, n - part.length, n);
          trace.trace.rows = trace.trace.rows.length === 0 ? own : rt.concatKv(trace.trace.rows, own);
        }
        past = rt.trimKv(r.present, rt.maxPast);
        done += part.length;
      }
      const len = chunk.last - chunk.first + 1;
      const rows = hidden.subarray((chunk.first - from) * d, (chunk.last + 1 - from) * d);
      if (trace) {
        const sn = this.snapshots.get(trace.key);
        if (sn) sn.trace = { ...trace.trace, hidden: rows.slice() };
        trace = undefined;
      }
      if (bodyOnly) continue;
      const targets = ids.slice(chunk.first + 1, chunk.last + 2);
      const wEnd = new Float32Array(len);
      const wStart = new Float32Array(len);
      for (let j = 0; j < len; j++) {
        wEnd[j] = Math.pow(lam, len - 1 - j);
        wStart[j] = Math.pow(lam, j);
      }
      // Both weightings in one graph run (the slow pass and the local backward are shared).
      const [fromEnd, fromStart] = (await unit(() =>
        rt.compactContributions(rows, targets, [wEnd, wStart]),
      )) as [CompactState, CompactState];
      if (this.layout.some((c) => c.key === chunk.key)) {
        const contributions = { fromEnd, fromStart, tokens: len };
        const known = this.computed.has(chunk.key); // (computed meanwhile by a cancelled build)
        this.computed.set(chunk.key, contributions);
        this.lastBuildComputed++;
        if (!known) this.addToCursorCache(chunk.key, contributions);
      }
    }
    // The next chunk's start too (the run's end), so that an edit there after this one finds it; a snapshot
    // already there with a trace of that chunk is kept (same tokens before it), unless this pass is exact and
    // it is not (an edit resumed from its trace would give what a warm-up gave, not a pass from the start).
    const endKey = this.snapshotKey(ids, to);
    const there = this.snapshots.get(endKey);
    if (keys.snapshot.has(endKey) && (!there?.trace || (exact && !there.exact))) {
      this.snapshots.set(endKey, { kv: keep(endKey, past, to), at: to + shift, exact });
    }
    return { end: to, past, shift, exact, compact };
  }

  /**
   * The latest chunk start before `first`, fewer than `warmup` tokens before it, with a snapshot that `usable`
   * accepts there: where a pass that finds no snapshot at `first` starts instead of a warm-up.
   */
  private snapshotBefore(
    ids: readonly number[],
    first: number,
    warmup: number,
    usable: (sn: KvSnapshot | undefined, at: number) => boolean,
  ): { at: number; snapshot: KvSnapshot } | undefined {
    for (let i = this.layout.length - 1; i >= 0; i--) {
      const at = this.layout[i]!.first;
      if (at >= first) continue;
      if (first - at >= warmup) return undefined;
      const sn = this.snapshots.get(this.snapshotKey(ids, at));
      if (usable(sn, at)) return { at, snapshot: sn! };
    }
    return undefined;
  }

  /**
   * Where a pass over `chunk` can start, given the trace of an earlier pass over it kept with `snapshot` (the
   * same tokens before the chunk): after the tokens the two share. Returns the chunk-relative position, the
   * key/value cache there (the snapshot's rows, then the trace's, the last maxPast of them), and the trace cut
   * to what still holds; undefined when they share no token.
   */
  private resumeTrace(
    snapshot: KvSnapshot,
    ids: readonly number[],
    chunk: ChunkLayout,
  ): { at: number; past: KvCache; trace: ChunkTrace } | undefined {
    const trace = snapshot.trace!;
    const len = chunk.last - chunk.first + 1;
    const n = Math.min(len, trace.ids.length, trace.rows.length);
    let at = 0;
    while (at < n && trace.ids[at] === ids[chunk.first + at]) at++;
    if (at === 0) return undefined;
    const rows = this.rt.sliceKv(trace.rows, 0, at);
    const before = fullKv(snapshot.kv);
    const past = before.length === 0 ? rows : this.rt.concatKv(before, rows);
    return {
      at,
      past: this.rt.trimKv(past, this.rt.maxPast),
      trace: { ids: ids.slice(chunk.first, chunk.last + 1), hidden: trace.hidden, rows },
    };
  }

  /**
   * Whether a build around `cursorOffset` would hold other positions than the last one: the document is
   * larger than `maxTokens` and the cursor left the middle half of the window on a side where the
   * document goes on.
   */
  windowMisses(cursorOffset: number, maxTokens: number): boolean {
    const layout = this.layout;
    if (!this.tokenized || layout.length === 0) return false;
    // Positions 0..n-1 (the last predicts the last token), as layoutChunks and pickWindow count them: with
    // one more, a window that held the file's end still seemed to miss it, and every rest there rebuilt.
    const n = this.tokenized.ids.length;
    if (n <= maxTokens) return false;
    const t = this.blocks.tokensBefore(this.tokenized, cursorOffset);
    return !inMiddleHalf(t, layout[0]!.first, layout[layout.length - 1]!.last, n, maxTokens);
  }

  /** Sums the state at a cursor offset ahead of the next completion there (it is cached per chunk). */
  prepareCursor(cursorOffset: number): void {
    if (this.tokenized) this.stateAt(this.blocks.tokensBefore(this.tokenized, cursorOffset));
  }

  /**
   * Readies the chunk under a resting cursor for typing: runs the body over it (after the warm-up before it)
   * to keep the key/value snapshot at its start and its trace, as a build records them for the chunks it
   * computes near its cursor. The first edit there then re-runs the body from the edited token instead of
   * warming up on the 255 tokens before the chunk. Its contribution is cached already, so only the body
   * runs (about 400 positions, in scheduler units of the given priority). First, the fp32 snapshots farther
   * than SNAPSHOT_CHUNKS from that chunk become int8, as the first build there would make them (about 3 ms
   * each, up to seven after a move: while the cursor rests, not in the first typing burst). Returns whether
   * anything changed.
   */
  async prepareEdit(cursorOffset: number, options: BuildOptions = {}): Promise<boolean> {
    if (!this.tokenized || this.foldedSums || options.snapshots === false || options.traces === false)
      return false;
    const ids = [this.rt.config.bos_token_id].concat(this.tokenized.ids);
    const t = this.blocks.tokensBefore(this.tokenized, cursorOffset);
    const at = this.layout.findIndex((c) => c.first <= t && c.last >= t);
    const chunk = this.layout[at];
    if (!chunk) return false;
    const near = new Set(
      this.layout
        .slice(Math.max(0, at - SNAPSHOT_CHUNKS), at + SNAPSHOT_CHUNKS + 1)
        .map((c) => this.snapshotKey(ids, c.first)),
    );
    const far = [...this.snapshots].some(([k, sn]) => !near.has(k) && !isLossy(sn.kv));
    if (far) {
      await this.rt.scheduler.run(options.priority ?? 'background', async () => {
        if (options.isCancelled?.()) throw new BuildCancelled();
        this.compactSnapshots(near);
      });
    }
    const key = this.snapshotKey(ids, chunk.first);
    if (this.snapshots.get(key)?.trace) return far;
    const keys = new Set([key]);
    const counted = this.lastBuildBodyTokens; // (what the last build ran, as reported)
    try {
      await this.computeRun(
        ids,
        [chunk],
        options,
        undefined,
        { snapshot: keys, fp32: keys, trace: keys },
        true,
      );
    } finally {
      this.lastBuildBodyTokens = counted;
    }
    return true;
  }

  /** Stores every precise snapshot whose key is not in `keep` as int8 rows (compactKv.ts). */
  private compactSnapshots(keep: ReadonlySet<string>): void {
    for (const [key, sn] of this.snapshots) {
      if (!keep.has(key) && !isLossy(sn.kv)) sn.kv = compactKv(fullKv(sn.kv), this.rt.config.head_dim);
    }
  }

  /** Token position of the cursor: the position whose prediction is the first token after `prefix`. */
  positionForPrefix(prefix: string): number {
    // The blocks of the last build count the tokens; a token straddling the cursor counts as before it,
    // which is close enough for choosing decay weights. Without a build, tokenize the prefix.
    if (this.tokenized && this.builtText !== undefined && prefix.length <= this.builtText.length) {
      return this.blocks.tokensBefore(this.tokenized, prefix.length);
    }
    return this.rt.tokenizer.encode(prefix).length; // bos is position 0, so the last prefix token sits here
  }

  /**
   * The state at token position t (default: whole-file weighting; chunks are the unit, the chunk holding t
   * is left out and its neighbours are weighted by their distance to t).
   */
  stateAt(t: number, mode: StateMode = 'whole_file'): FastWeightState {
    const chunks = this.layout;
    if (this.tokenCount === 0) return this.rt.zeroState();
    if (this.foldedSums) return this.foldedStateAt(t, mode);
    const lam = this.rt.config.fwl.decay;
    let idx = chunks.findIndex((c) => t >= c.first && t <= c.last);
    if (idx < 0) idx = t < chunks[0]!.first ? -1 : chunks.length; // before all / after all
    if (idx >= 0 && idx < chunks.length) this.cursorChunk = idx;
    let cache = this.cursorCache;
    const inside = (i: number): boolean => i >= 0 && i < chunks.length;
    // Steps take each chunk passed out of one sum and into the other: chunks of their own only.
    const ownFrom = (a: number, b: number): boolean =>
      chunks.slice(Math.min(a, b), Math.max(a, b) + 1).every((x) => this.computed.has(x.key));
    if (cache && cache.mode === mode && inside(cache.chunk) && inside(idx)) {
      // A cursor a few chunks away: move the sums chunk by chunk (two chunk sums per step instead of all).
      if (Math.abs(idx - cache.chunk) <= MAX_CURSOR_STEPS && ownFrom(idx, cache.chunk)) {
        while (cache.chunk < idx) this.stepRight(cache);
        while (cache.chunk > idx) this.stepLeft(cache);
      }
    }
    if (!cache || cache.chunk !== idx || cache.mode !== mode) {
      const first = inside(idx) ? chunks[idx]!.first : t;
      const last = inside(idx) ? chunks[idx]!.last : t;
      cache = {
        chunk: idx,
        mode,
        left: this.rt.newState(),
        right: this.rt.newState(),
        first,
        last,
        leftEdge: idx,
        rightEdge: idx,
      };
      this.extendLeft(cache);
      if (mode === 'whole_file') this.extendRight(cache);
      // A cursor inside a group (until a build computes its chunks again): the group counts as if it began
      // (or ended) at the cursor chunk, whichever edge is nearer.
      const g = inside(idx) ? this.groupOf.get(chunks[idx]!.key) : undefined;
      if (g) {
        const head = chunks.findIndex((x) => x.key === g.keys[0]);
        const ahead = chunks[head]!.first + chunks[head + g.keys.length - 1]!.last >= 2 * t;
        if (ahead && mode === 'whole_file')
          for (const x of seenFrom(g, 'right')) x.addScaledTo(cache.right, 1);
        else if (!ahead) for (const x of seenFrom(g, 'left')) x.addScaledTo(cache.left, 1);
      }
      this.cursorCache = cache;
    }
    const wl = Math.pow(lam, Math.max(0, t - cache.first));
    const wr = Math.pow(lam, Math.max(0, cache.last - t));
    // Summed per query (0.5-1.3 ms on the 2-core machines), not kept: a kept copy cost 2 MB per document.
    return this.rt.newState().sumScaled(cache.left, wl, cache.right, wr);
  }

  /** Chunk j's own sum as a cursor on `side` of it sees it (seenAs), if it has its own. */
  private sideOf(j: number, side: 'left' | 'right'): CompactState | undefined {
    const c = this.computed.get(this.layout[j]!.key);
    return c && seenAs(c, side);
  }

  /** Whether chunk x's contributions are held: its own, or summed with its group. */
  private covered(x: ChunkLayout): boolean {
    return this.computed.has(x.key) || this.groupOf.has(x.key);
  }

  /** What chunk x adds seen from its right (weighted from its last position): a group's sum at its last chunk. */
  private leftParts(x: ChunkLayout): CompactState[] {
    const own = this.computed.get(x.key);
    if (own) return [seenAs(own, 'left')];
    const g = this.groupOf.get(x.key);
    return g && g.keys[g.keys.length - 1] === x.key ? seenFrom(g, 'left') : [];
  }

  /** What chunk x adds seen from its left (weighted from its first position): a group's sum at its first. */
  private rightParts(x: ChunkLayout): CompactState[] {
    const own = this.computed.get(x.key);
    if (own) return [seenAs(own, 'right')];
    const g = this.groupOf.get(x.key);
    return g && g.keys[0] === x.key ? seenFrom(g, 'right') : [];
  }

  /** Whether chunks near a cursor at `cursorOffset` are summed in groups (a build there computes them again). */
  groupedNear(cursorOffset: number): boolean {
    if (!this.tokenized || this.groupOf.size === 0) return false;
    const t = this.blocks.tokensBefore(this.tokenized, cursorOffset);
    let idx = this.layout.findIndex((c) => c.last >= t);
    if (idx < 0) idx = this.layout.length - 1;
    const near = this.layout
      .slice(Math.max(0, idx - FINE_CHUNKS), idx + FINE_CHUNKS + 1)
      .some((x) => this.groupOf.has(x.key));
    return near || this.crossedGroups(idx).length > 0 || this.crossedChunks(idx).length > 0;
  }

  /**
   * Keys of the chunks of their own that lack the sum a cursor at chunk `at` needs: fromEnd left of it,
   * fromStart right of it, both at it (see ChunkContributions).
   */
  private crossedChunks(at: number): string[] {
    const out: string[] = [];
    this.layout.forEach((x, j) => {
      const c = this.computed.get(x.key);
      if (!c) return;
      if ((j <= at && !c.fromEnd) || (j >= at && !c.fromStart)) out.push(x.key);
    });
    return out;
  }

  /**
   * Frees, of the chunks of their own farther than TWO_SIDED_CHUNKS from the cursor chunk, the sum the cursor
   * does not see (fromStart left of it, fromEnd right of it). A chunk whose text occurs twice in the layout
   * keeps both. Cursor sums made at another chunk may hold a sum freed here: they are summed afresh.
   */
  private trimFar(cursorChunk: number): void {
    const count = new Map<string, number>();
    for (const x of this.layout) count.set(x.key, (count.get(x.key) ?? 0) + 1);
    let trimmed = false;
    this.layout.forEach((x, j) => {
      const c = this.computed.get(x.key);
      if (!c || count.get(x.key) !== 1 || Math.abs(j - cursorChunk) <= TWO_SIDED_CHUNKS) return;
      const side = j < cursorChunk ? 'fromStart' : 'fromEnd';
      if (c[side] && c[j < cursorChunk ? 'fromEnd' : 'fromStart']) {
        c[side] = undefined;
        trimmed = true;
      }
    });
    if (trimmed && this.cursorCache && this.cursorCache.chunk !== cursorChunk) this.cursorCache = undefined;
  }

  /** Groups not on the side of chunk `at` they were summed for (see ChunkGroup.side). */
  private crossedGroups(at: number): ChunkGroup[] {
    const index = new Map(this.layout.map((x, i) => [x.key, i]));
    return [...new Set(this.groupOf.values())].filter((g) => {
      const first = index.get(g.keys[0]!);
      const last = index.get(g.keys[g.keys.length - 1]!);
      if (first === undefined || last === undefined) return false;
      return g.side === 'left' ? last >= at : first <= at;
    });
  }

  /** Forgets a group: its chunks are missing until a build computes them (the cursor sums start afresh). */
  private dissolve(g: ChunkGroup): void {
    for (const key of g.keys) if (this.groupOf.get(key) === g) this.groupOf.delete(key);
    this.cursorCache = undefined;
  }

  /**
   * Sums runs of chunks farther than FINE_CHUNKS from the cursor chunk into groups, larger with the distance
   * (groupSize), and frees their own contributions: a group's sum costs half of what one chunk's two do. Only chunks
   * of their own that occur once in the layout join a group (a key met twice would lose the other's
   * contributions), and not those in `keep`.
   */
  private mergeFar(cursorChunk: number, keep: ReadonlySet<string>): void {
    const layout = this.layout;
    const count = new Map<string, number>();
    for (const x of layout) count.set(x.key, (count.get(x.key) ?? 0) + 1);
    const joins = (j: number): boolean =>
      count.get(layout[j]!.key) === 1 && this.computed.has(layout[j]!.key) && !keep.has(layout[j]!.key);
    let made = false;
    for (const dir of [-1, 1]) {
      let run: number[] = [];
      const close = (): void => {
        if (run.length >= 2) {
          this.group(
            run.sort((x, y) => x - y),
            dir < 0 ? 'left' : 'right',
          );
          made = true;
        }
        run = [];
      };
      for (let j = cursorChunk + dir * (FINE_CHUNKS + 1); j >= 0 && j < layout.length; j += dir) {
        if (!joins(j)) {
          close();
          continue;
        }
        run.push(j);
        if (run.length >= groupSize(Math.abs(run[0]! - cursorChunk))) close();
      }
      close();
    }
    if (made) this.cursorCache = undefined;
  }

  /**
   * Frees the snapshots at chunk starts inside groups where no pass would start: a group is computed again
   * in runs of MAX_RUN_CHUNKS from its first chunk, so only the snapshots there are of use.
   */
  /** Cuts the blocks of the int8 snapshots to the rows the snapshots kept still use (repackKv). */
  private repackSnapshots(): void {
    const compact = [...this.snapshots.values()].filter((sn) => isLossy(sn.kv));
    const repacked = repackKv(compact.map((sn) => sn.kv as CompactKv));
    compact.forEach((sn, i) => (sn.kv = repacked[i]!));
  }

  private dropSnapshotsInGroups(ids: readonly number[]): void {
    for (const x of this.layout) {
      const g = this.groupOf.get(x.key);
      if (g && g.keys.indexOf(x.key) % MAX_RUN_CHUNKS !== 0)
        this.snapshots.delete(this.snapshotKey(ids, x.first));
    }
  }

  /**
   * Sums the chunks at layout indices `run` (consecutive, ascending) into one group, as seen from the cursor's
   * `side`, rounded to int8 rows once. (Two int8 parts, the second the rounding error of the first, were kept for groups within
   * 1,024 tokens of the cursor: twice the bytes for +0.003% bits per token on the valid split, bench:groups.)
   */
  private group(run: number[], side: 'left' | 'right'): void {
    const lam = this.rt.config.fwl.decay;
    const chunks = run.map((j) => this.layout[j]!);
    const first = chunks[0]!.first;
    const last = chunks[chunks.length - 1]!.last;
    const own = chunks.map((x) => this.computed.get(x.key)!);
    const sum = (terms: { state: CompactState; w: number }[]): CompactState[] => {
      const state = this.rt.newState();
      CompactState.accumulate(state, terms);
      return CompactState.parts(state, false);
    };
    const g: ChunkGroup = {
      keys: chunks.map((x) => x.key),
      side,
      fromEnd:
        side === 'left'
          ? sum(own.map((c, k) => ({ state: seenAs(c, 'left'), w: Math.pow(lam, last - chunks[k]!.last) })))
          : [],
      fromStart:
        side === 'right'
          ? sum(
              own.map((c, k) => ({ state: seenAs(c, 'right'), w: Math.pow(lam, chunks[k]!.first - first) })),
            )
          : [],
      tokens: own.reduce((n, c) => n + c.tokens, 0),
    };
    for (const key of g.keys) {
      this.computed.delete(key);
      this.groupOf.set(key, g);
    }
  }

  /** Adds the chunks left of those in the sum while they weigh at least NEGLIGIBLE_WEIGHT. */
  private extendLeft(c: CursorCache): void {
    const lam = this.rt.config.fwl.decay;
    const terms: { state: CompactState; w: number }[] = [];
    for (let j = Math.min(c.leftEdge, this.layout.length) - 1; j >= 0; j--) {
      const w = Math.pow(lam, c.first - 1 - this.layout[j]!.last);
      if (w < NEGLIGIBLE_WEIGHT) break;
      for (const part of this.leftParts(this.layout[j]!)) terms.push({ state: part, w });
      c.leftEdge = j;
    }
    if (terms.length > 0) CompactState.accumulate(c.left, terms);
  }

  /** Adds the chunks right of those in the sum while they weigh at least NEGLIGIBLE_WEIGHT. */
  private extendRight(c: CursorCache): void {
    const lam = this.rt.config.fwl.decay;
    const terms: { state: CompactState; w: number }[] = [];
    for (let j = Math.max(c.rightEdge, c.chunk) + 1; j < this.layout.length; j++) {
      const w = Math.pow(lam, this.layout[j]!.first - c.last - 1);
      if (w < NEGLIGIBLE_WEIGHT) break;
      for (const part of this.rightParts(this.layout[j]!)) terms.push({ state: part, w });
      c.rightEdge = j;
    }
    if (terms.length > 0) CompactState.accumulate(c.right, terms);
  }

  /** Moves the sums from the cursor chunk to the next one (exact: the decay rule is a recurrence). */
  private stepRight(c: CursorCache): void {
    const lam = this.rt.config.fwl.decay;
    const i = c.chunk;
    const a = this.layout[i]!;
    const b = this.layout[i + 1]!;
    // Each side is scaled and gains or loses one chunk in a single pass over it.
    scaleAndAdd(
      c.left,
      Math.pow(lam, b.first - a.first),
      this.sideOf(i, 'left'),
      Math.pow(lam, b.first - 1 - a.last),
    );
    if (c.mode === 'whole_file') {
      const s = Math.pow(lam, -(b.last - a.last));
      const leaving = c.rightEdge >= i + 1 ? this.sideOf(i + 1, 'right') : undefined;
      scaleAndAdd(c.right, s, leaving, -s * Math.pow(lam, b.first - a.last - 1));
      c.rightEdge = Math.max(c.rightEdge, i + 1);
    }
    Object.assign(c, { chunk: i + 1, first: b.first, last: b.last });
    if (c.mode === 'whole_file') this.extendRight(c);
  }

  /** Moves the sums from the cursor chunk to the previous one. */
  private stepLeft(c: CursorCache): void {
    const lam = this.rt.config.fwl.decay;
    const i = c.chunk;
    const a = this.layout[i]!;
    const b = this.layout[i - 1]!;
    const s = Math.pow(lam, -(a.first - b.first));
    const leaving = c.leftEdge <= i - 1 ? this.sideOf(i - 1, 'left') : undefined;
    scaleAndAdd(c.left, s, leaving, -s * Math.pow(lam, a.first - 1 - b.last));
    c.leftEdge = Math.min(c.leftEdge, i - 1);
    if (c.mode === 'whole_file') {
      scaleAndAdd(
        c.right,
        Math.pow(lam, a.last - b.last),
        this.sideOf(i, 'right'),
        Math.pow(lam, a.first - b.last - 1),
      );
      c.rightEdge = Math.max(c.rightEdge, i);
    }
    Object.assign(c, { chunk: i - 1, first: b.first, last: b.last });
    this.extendLeft(c);
  }
}

/** x = a * x + w * chunk in one pass (x = a * x without a chunk). */
function scaleAndAdd(x: FastWeightState, a: number, chunk: CompactState | undefined, w: number): void {
  if (chunk) chunk.scaleAndAddTo(x, a, w);
  else x.scale(a);
}

/**
 * Whether position t lies in the middle half of a window [first, last] of maxTokens positions in a document
 * of n (a side where the window reaches the document's edge has no margin).
 */
function inMiddleHalf(t: number, first: number, last: number, n: number, maxTokens: number): boolean {
  const margin = Math.floor(maxTokens / 4);
  return !((first > 0 && t < first + margin) || (last < n - 1 && t > last - margin));
}

/**
 * The chunks whose positions fall in a window of maxTokens positions around `cursor`: the last build's window
 * (`previous`, its chunks) while the cursor is in its middle half, as windowMisses decides for cursor moves
 * (else every edit away from the middle would move the window and compute new chunks at its far edge, where
 * they weigh about 1e-4); else whole chunks added around the cursor's chunk, each time on the side where the
 * cursor has fewer positions, while they fit (so the cursor lands in the middle half of what is held, and
 * the next move inside it keeps this window).
 */
function pickWindow<C extends { first: number; end: number }>(
  all: C[],
  cursor: number,
  maxTokens: number,
  previous: readonly ChunkLayout[],
): C[] {
  if (all.length === 0) return all;
  const n = all[all.length - 1]!.end;
  if (n <= maxTokens) return all;
  const [head, tail] = [previous[0], previous[previous.length - 1]];
  if (head && tail && inMiddleHalf(cursor, head.first, tail.last, n, maxTokens)) {
    const hi = Math.min(n, head.first + maxTokens);
    return all.filter((c) => c.first >= head.first && c.end <= hi);
  }
  let a = all.findIndex((c) => c.end > cursor);
  if (a < 0) a = all.length - 1;
  let b = a;
  const size = (c: C): number => c.end - c.first;
  let held = size(all[a]!);
  for (;;) {
    const left = a > 0 && held + size(all[a - 1]!) <= maxTokens;
    const right = b + 1 < all.length && held + size(all[b + 1]!) <= maxTokens;
    if (!left && !right) break;
    if (left && (!right || cursor - all[a]!.first <= all[b]!.end - cursor)) held += size(all[--a]!);
    else held += size(all[++b]!);
  }
  return all.slice(a, b + 1);
}

/** Missing chunk indices grouped into runs of consecutive chunks, nearest the cursor chunk first. */
function orderRuns(missing: number[], cursorChunk: number): number[][] {
  const runs: number[][] = [];
  for (const i of missing) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === i - 1 && run.length < MAX_RUN_CHUNKS) run.push(i);
    else runs.push([i]);
  }
  const distance = (run: number[]): number =>
    cursorChunk < run[0]! ? run[0]! - cursorChunk : Math.max(0, cursorChunk - run[run.length - 1]!);
  return runs.sort((a, b) => distance(a) - distance(b) || a[0]! - b[0]!);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function kvBytes(kv: KvCache): number {
  return kv.keys.byteLength + kv.values.byteLength;
}
