/**
 * Line completion: prefill the prompt with the KV cache, then greedy decoding with a fixed fast-weight state
 * until the end of the line, a special token or a token budget.
 *
 * Token healing: the last prompt token is taken back and the generated tokens must re-type its bytes first,
 * so that "cons|" can become "const" instead of the rare split "cons" + "t", and "return |" can continue with
 * " x" instead of a lone space token the model rarely saw. Where the bytes taken back are whitespace only, a
 * token may also re-type just their start and leave the rest to the next one: after a line's indentation
 * "\n  |" the tokenizer's own split of the line that follows is "\n " + " ?" (the last space goes with the
 * word), which a token that must start with all of "\n  " rules out; the model then wrote deeper
 * indentation, as after "\n    ". (Inside a word the same freedom let it pick rare splits: measured worse.)
 */
import { FastWeightState } from './fastWeights';
import {
  cacheEnabled,
  cacheWeight,
  FileNgrams,
  MAX_CONTEXT,
  mixWithCache,
  NgramCacheParams,
} from './fileNgrams';
import { cacheDraft, lookupDraft } from './drafts';
import { extendTape, matchTape, PromptCache } from './promptCache';
import { argmaxRow, FastWeightsRuntime, KvCache } from './runtime';
import type { SuffixIndex } from './suffixIndex';
import { sampleOf, WorkspaceNgramParams, workspaceWeight } from './workspaceNgrams';

export { PromptCache } from './promptCache';

export interface CompleteOptions {
  /** Most tokens generated (default 48). */
  maxTokens?: number;
  /** Most prompt tokens fed to the body (default 2 x attention window, at least 256). */
  maxPromptTokens?: number;
  /**
   * Fast-weight state to use; the zero state (static model) when absent. A function is called once the
   * request holds the model, so that a state build finished while it waited is in the sum. (It does not
   * overlap the body: onnxruntime-node runs a graph synchronously on the calling thread.)
   */
  state?: FastWeightState | (() => FastWeightState);
  /** Checked between steps; a true result stops decoding (result.cancelled = true). */
  isCancelled?: () => boolean;
  /** Take back a partial last token and constrain the first one (default true). */
  tokenHealing?: boolean;
  priority?: 'foreground' | 'background';
  /** Keys and values of the previous prompt, reused for the part the new prompt shares (updated in place). */
  promptCache?: PromptCache;
  /** Lines generated at most (default 1: stop at the end of the current line); > 1 for multi-line text. */
  maxLines?: number;
  /**
   * With maxLines > 1: stop at a later line whose leading whitespace is shorter than this many characters
   * (the text has left the cursor's indentation scope; the caller cuts that line off).
   */
  minIndent?: number;
  /** The file's n-gram cache, mixed into each next-token distribution (absent: the model alone). */
  ngrams?: { cache: FileNgrams; params: NgramCacheParams };
  /**
   * The workspace's index, its longest-match continuation mixed in after the file cache; `exclude` is the
   * span of the file being completed (its copy in the index is stale, and the file cache has its text).
   */
  workspace?: { index: SuffixIndex; params: WorkspaceNgramParams; exclude?: { from: number; to: number } };
  /**
   * Most draft tokens verified together with each generated token (speculative decoding with drafts from
   * the file itself, see drafts.ts; the text is that of plain greedy decoding). 0 disables (default
   * DEFAULT_SPECULATE).
   */
  speculate?: number;
  /**
   * Stop before the first token (after MIN_KEPT_CHARS non-space characters) whose probability, under the model
   * mixed with the n-gram cache when there is one, is below this: what is left is more often right as a
   * whole. 0: never.
   */
  minTokenProb?: number;
}

/**
 * Draft tokens per decoding round by default. Measured with the bench's completion requests, speculation
 * on and off interleaved in one process (int8, one thread): completion p50 and p95 about 5 % lower (decoding
 * rounds per token 0.82, about one draft accepted per verification); with the file's n-gram cache about
 * half the rounds. 2, 4 and 8 did about equally well without the cache, 8 best with it.
 */
export const DEFAULT_SPECULATE = 8;

export interface Completion {
  /** The text to insert after the cursor (no newline unless maxLines > 1; then \n between lines). */
  text: string;
  /** Generated token count. */
  tokens: number;
  /** Mean natural-log probability of the generated tokens under the model (0 when none): its confidence. */
  meanLogProb: number;
  /**
   * Natural-log probability of the suggestion's lead: its tokens up to the first MIN_KEPT_CHARS non-space
   * characters, which minTokenProb never cuts (0 when none). How likely the start is right: even a
   * word-by-word accept needs it.
   */
  leadLogProb: number;
  promptTokens: number;
  /**
   * Where the file's n-gram cache or the workspace index first picked a token the model alone would not
   * have: 'lead' inside the suggestion's lead, 'later' after it, 'none' never (the model's own text).
   */
  copied: 'none' | 'lead' | 'later';
  /** Characters of `text` before that first copied token (-1 when none). */
  copiedFrom: number;
  /** Why decoding stopped ('unsure': the next token was below minTokenProb). */
  stop: 'newline' | 'eos' | 'max_tokens' | 'cancelled' | 'unsure';
  cancelled: boolean;
  /** Prompt tokens whose keys and values came from the prompt cache. */
  cachedPromptTokens: number;
  /** Decoding rounds that verified draft tokens, the draft tokens they verified and those accepted. */
  verifications: number;
  draftTokens: number;
  acceptedDrafts: number;
  /** Time spent waiting for the model (background work finishing its unit). */
  waitMs: number;
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
}

/** Characters by which the start of a long prompt moves (see preparePrompt). */
const CUT_QUANTUM = 512;

/**
 * Non-space characters a suggestion shows before minTokenProb may end it: a cut right after "x" in
 * "return x * 2;" would leave a suggestion too short to show at all.
 */
const MIN_KEPT_CHARS = 3;

/** Decoding steps between two trims of the key/value cache to the attention window. */
const TRIM_SLACK = 32;

/** Most tokens taken back by healing (a word the tokenizer split in unusual places). */
const MAX_HEALED_TOKENS = 3;

/**
 * How many final tokens of `ids` healing takes back: the last one if it is ordinary whole text (so "cons"
 * may become "const", and a trailing " " after "return" may become " x", the tokenizer gluing spaces to the
 * following word), and before it the tokens of the same word, as long as one vocabulary token starts with
 * all of them. A word typed halfway is often split where the whole word never is (" ret" + "u" for
 * " retu"): taking back only "u" forces the model to go on from " ret", where it writes "use"; taken back
 * together, " retu" becomes " return" in one token.
 */
function tokensToHeal(rt: FastWeightsRuntime, ids: readonly number[], prefix: string): number {
  let back = 0;
  let tail = '';
  for (let k = 1; k <= MAX_HEALED_TOKENS && k <= ids.length; k++) {
    const id = ids[ids.length - k]!;
    const bytes = rt.tokenizer.tokenBytes(id);
    const piece = Buffer.from(bytes).toString('utf8');
    if (rt.tokenizer.specialIds.has(id) || bytes.length === 0 || piece.includes('\uFFFD')) break;
    if (!prefix.endsWith(piece + tail)) break;
    // Further back only inside one word: this piece ends a word that the taken-back text continues.
    if (k > 1 && !(/\w$/.test(piece) && /^\w/.test(tail) && !piece.includes('\n'))) break;
    tail = piece + tail;
    // The last token always qualifies (it starts with itself).
    if (k === 1 || someTokenStartsWith(rt, Buffer.from(tail, 'utf8'))) back = k;
  }
  return back;
}

/** Per tokenizer: every byte prefix of every ordinary token (as latin1 strings), built on first use. */
const tokenPrefixes = new WeakMap<object, Set<string>>();

function someTokenStartsWith(rt: FastWeightsRuntime, bytes: Uint8Array): boolean {
  const tok = rt.tokenizer;
  let prefixes = tokenPrefixes.get(tok);
  if (!prefixes) {
    prefixes = new Set();
    for (let id = 0; id < tok.vocabSize; id++) {
      if (tok.specialIds.has(id)) continue;
      const b = Buffer.from(tok.tokenBytes(id)).toString('latin1');
      for (let n = 1; n <= b.length; n++) prefixes.add(b.slice(0, n));
    }
    tokenPrefixes.set(tok, prefixes);
  }
  return prefixes.has(Buffer.from(bytes).toString('latin1'));
}

/** Splits the prompt into ids, taking back the final tokens when healing applies (tokensToHeal). */
export function preparePrompt(
  rt: FastWeightsRuntime,
  prefix: string,
  maxPromptTokens: number,
  heal: boolean,
): { ids: number[]; start: number; healBytes: Uint8Array } {
  const cfg = rt.config;
  let text = prefix;
  let atFileStart = true;
  // Cut long prefixes at a line start about 3 characters per allowed token back. The cut point moves in
  // steps of CUT_QUANTUM characters, so that while the user types, consecutive prompts share their start
  // and the prompt cache can reuse the keys and values already computed.
  const budgetChars = maxPromptTokens * 3;
  if (text.length > budgetChars + CUT_QUANTUM) {
    let cut = Math.floor((text.length - budgetChars) / CUT_QUANTUM) * CUT_QUANTUM;
    const nl = text.indexOf('\n', cut);
    if (nl >= 0 && nl < text.length - 1) cut = nl + 1;
    text = text.slice(cut);
    atFileStart = false;
  }
  let ids = rt.tokenizer.encode(text);
  // A hard cap for text with unusually short tokens.
  const hardCap = 2 * maxPromptTokens;
  if (ids.length > hardCap - 1) {
    ids = ids.slice(ids.length - (hardCap - 1));
    atFileStart = false;
  }
  let healBytes: Uint8Array = new Uint8Array(0);
  if (heal) {
    const back = tokensToHeal(rt, ids, prefix);
    if (back > 0) {
      healBytes = Buffer.concat(ids.slice(-back).map((id) => rt.tokenizer.tokenBytes(id)));
      ids = ids.slice(0, -back);
    }
  }
  const withBos = atFileStart ? [cfg.bos_token_id, ...ids] : ids;
  if (withBos.length === 0) withBos.push(cfg.bos_token_id);
  // Absolute positions: the model's keys carry RoPE, so only relative distances matter; start at 0.
  return { ids: withBos, start: 0, healBytes };
}

/** Line breaks in generated text (\r\n counts once). */
function lineBreaks(text: string): number {
  return (text.match(/\r\n?|\n/g) ?? []).length;
}

/** Whether a line after the first has started with less leading whitespace than `minIndent`. */
function leavesScope(text: string, minIndent: number): boolean {
  const lines = text.split(/\r\n?|\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().length > 0 && line.length - line.trimStart().length < minIndent) return true;
  }
  return false;
}

/** Natural-log probability of `id` under the first row of `logits` (a full softmax). */
function logProbOf(logits: Float32Array, vocab: number, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(sum);
}

/** Log of the probability of the tokens `allowed` takes, in a row of logits or (isProb) probabilities. */
function logMassOf(
  row: Float32Array,
  isProb: boolean,
  vocab: number,
  allowed: (id: number) => boolean,
): number {
  if (isProb) {
    let mass = 0;
    for (let i = 0; i < vocab; i++) if (allowed(i)) mass += row[i]!;
    return Math.log(Math.max(mass, 1e-30));
  }
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (row[i]! > max) max = row[i]!;
  let all = 0;
  let kept = 0;
  for (let i = 0; i < vocab; i++) {
    const e = Math.exp(row[i]! - max);
    all += e;
    if (allowed(i)) kept += e;
  }
  return Math.log(Math.max(kept, 1e-30) / all);
}

/**
 * Whether a token may come next while `pending` bytes are to be re-typed: it starts with them, or, where they
 * are whitespace only (`spaces`, the same for every token), it is a start of them (see the top of this file).
 */
function retypes(bytes: Uint8Array, pending: Uint8Array, spaces: boolean): boolean {
  if (startsWithBytes(bytes, pending)) return true;
  return spaces && bytes.length > 0 && startsWithBytes(pending, bytes);
}

/** Space, tab, line feed, carriage return. */
const isSpaceByte = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

function startsWithBytes(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Completes the line after `prefix` (the document text before the cursor). */
export async function completeLine(
  rt: FastWeightsRuntime,
  prefix: string,
  options: CompleteOptions = {},
): Promise<Completion> {
  const t0 = performance.now();
  const cfg = rt.config;
  const V = cfg.vocab_size;
  const maxTokens = options.maxTokens ?? 48;
  const maxLines = Math.max(1, options.maxLines ?? 1);
  const maxPrompt = options.maxPromptTokens ?? Math.max(256, 2 * cfg.attn_window);
  let state = typeof options.state === 'function' ? undefined : options.state;
  const priority = options.priority ?? 'foreground';
  const speculate = Math.max(0, Math.floor(options.speculate ?? DEFAULT_SPECULATE));
  const logMinProb = (options.minTokenProb ?? 0) > 0 ? Math.log(options.minTokenProb!) : -Infinity;
  const cancelled = (): boolean => options.isCancelled?.() ?? false;
  const { ids, start, healBytes } = preparePrompt(rt, prefix, maxPrompt, options.tokenHealing ?? true);
  const result: Completion = {
    text: '',
    tokens: 0,
    meanLogProb: 0,
    leadLogProb: 0,
    promptTokens: ids.length,
    copied: 'none',
    copiedFrom: -1,
    stop: 'max_tokens',
    cancelled: false,
    cachedPromptTokens: 0,
    verifications: 0,
    draftTokens: 0,
    acceptedDrafts: 0,
    waitMs: 0,
    prefillMs: 0,
    decodeMs: 0,
    totalMs: 0,
  };
  const special = rt.tokenizer.specialIds;
  const generated: number[] = [];
  /** The prompt and the generated tokens: where drafts are looked up, and the n-gram cache's context. */
  const history: number[] = [];
  let logProbSum = 0;
  let leadDone = false;
  let past: KvCache | undefined;
  let lastHidden: Float32Array = new Float32Array(0);
  let healed = 0; // bytes of healBytes re-generated so far
  let pos = start;
  let cacheRow: Float32Array | undefined;
  let mixedRow: Float32Array | undefined;
  let draftRow: Float32Array | undefined;

  if (cancelled()) return finish('cancelled');
  // One scheduler unit for the whole completion: background work waits until the line is done, and the
  // completion waits at most for the background unit already running.
  const stopReason = await rt.scheduler.run(priority, async (): Promise<Completion['stop']> => {
    const tStart = performance.now();
    result.waitMs = tStart - t0;
    if (cancelled()) return 'cancelled';
    // Prefill, reusing the cached keys and values of the prompt part already on the cache's tape.
    const cache = options.promptCache;
    const match = cache?.hasKv ? matchTape(cache.ids, ids) : { shared: 0, resumeAt: 0 };
    const shared = match.shared;
    if (shared > 0 && cache?.hasKv) pos = cache.base + match.resumeAt;
    const pastFrom = Math.max(0, match.resumeAt - rt.maxPast);
    const past0 = shared > 0 && cache?.hasKv ? cache.slice(rt, pastFrom, match.resumeAt) : undefined;
    const prefill = rt.body(ids.slice(shared), pos, past0);
    if (typeof options.state === 'function') state = options.state();
    state ??= rt.zeroState();
    const r0 = await prefill;
    const fresh = r0.hidden.length / cfg.d_model;
    lastHidden = r0.hidden.slice((fresh - 1) * cfg.d_model, fresh * cfg.d_model);
    if (cache) extendTape(rt, cache, match, ids, r0.present, past0?.length ?? 0, 2 * maxPrompt);
    // The body masks keys beyond its window, so a past up to TRIM_SLACK entries longer is exact (as below).
    past = r0.present.length > rt.maxPast + TRIM_SLACK ? rt.trimKv(r0.present, rt.maxPast) : r0.present;
    pos += ids.length - shared;
    result.cachedPromptTokens = shared;
    result.prefillMs = performance.now() - tStart;

    // Greedy decoding. Each round feeds the token just chosen and up to `speculate` draft tokens (drafts.ts)
    // to the body, and the head scores all of them: row j gives the token after input j. Rows are taken in
    // order with exactly the rules of a one-token step, as long as each choice equals the next draft; the
    // first choice that differs (or the last row) becomes the next round's input, and the keys and values of
    // the drafts after it are dropped. Without drafts a round is one plain decoding step.
    history.push(...ids);
    if (maxTokens <= 0) return 'max_tokens';
    if (cancelled()) return 'cancelled';
    let logits = await rt.head(lastHidden, 1, state);
    let drafts: number[] = [];
    for (;;) {
      let row = 0;
      for (;;) {
        const stop = choose(logits.subarray(row * V, (row + 1) * V));
        if (stop) return stop;
        if (generated.length >= maxTokens) return 'max_tokens';
        if (row >= drafts.length || generated[generated.length - 1] !== drafts[row]) break;
        row++;
        result.acceptedDrafts++;
      }
      const rejected = drafts.length - row;
      if (rejected > 0) {
        // Drop the rejected drafts' keys and values (trimming to the window on the way: this copies anyway).
        const keep = past!.length - rejected;
        past = rt.sliceKv(past!, Math.max(0, keep - rt.maxPast), keep);
        pos -= rejected;
      }
      if (cancelled()) return 'cancelled';
      const next = generated[generated.length - 1]!;
      drafts = speculate > 0 ? findDrafts(Math.min(speculate, maxTokens - generated.length - 1)) : [];
      if (drafts.length > 0) result.verifications++;
      result.draftTokens += drafts.length;
      const r = await rt.body([next, ...drafts], pos, past);
      // The body masks keys beyond the window itself, so trimming every TRIM_SLACK steps is exact and saves
      // copying the whole cache after each token (the drafts' entries stay, they may be dropped).
      const keepPast = rt.maxPast + drafts.length;
      past = r.present.length > keepPast + TRIM_SLACK ? rt.trimKv(r.present, keepPast) : r.present;
      pos += 1 + drafts.length;
      logits = await rt.head(r.hidden, 1 + drafts.length, state);
    }
  });
  return finish(stopReason);

  /**
   * One decoding step's choice from the model's row for the next position: the greedy token under the
   * healing constraint and the n-gram cache, appended to `generated`; or why decoding stops.
   */
  function choose(logits: Float32Array): Completion['stop'] | undefined {
    // While healing, the token re-types the bytes taken back (all of them, or a start of whitespace; the
    // tokens taken back are one way: tokensToHeal made sure of it).
    const pending = healBytes.subarray(healed);
    const spaces = pending.every(isSpaceByte);
    const allowed =
      pending.length > 0
        ? (id: number) => !special.has(id) && retypes(rt.tokenizer.tokenBytes(id), pending, spaces)
        : undefined;
    const mixed = mixCache(logits);
    const next = argmaxRow(mixed ?? logits, 0, V, allowed, rt.tokenizer.vocabSize);
    if (next < 0 || special.has(next) || next === cfg.bos_token_id) return 'eos';
    const logProb = mixed ? Math.log(Math.max(mixed[next]!, 1e-30)) : logProbOf(logits, V, next);
    // A token that still re-types the prefix is never cut: the suggestion would end inside the typed word.
    if (logProb < logMinProb && pending.length === 0 && showsEnoughText()) return 'unsure';
    if (
      mixed &&
      result.copied === 'none' &&
      next !== argmaxRow(logits, 0, V, allowed, rt.tokenizer.vocabSize)
    ) {
      result.copied = leadDone ? 'later' : 'lead';
      const { text } = rt.tokenizer.decodeBytes(generated);
      result.copiedFrom = healed >= healBytes.length ? text.length - healedPrefixLength(text) : 0;
    }
    if (pending.length > 0) healed += Math.min(pending.length, rt.tokenizer.tokenBytes(next).length);
    generated.push(next);
    history.push(next);
    logProbSum += logProb;
    if (!leadDone) {
      // A token that re-types the prefix counts as a choice among the tokens that agree with it.
      result.leadLogProb += allowed ? logProb - logMassOf(mixed ?? logits, !!mixed, V, allowed) : logProb;
      leadDone = healed >= healBytes.length && showsEnoughText();
    }
    if (healed >= healBytes.length) {
      const { text } = rt.tokenizer.decodeBytes(generated);
      const body = text.slice(healedPrefixLength(text));
      if (lineBreaks(body) >= maxLines) return 'newline';
      if (options.minIndent !== undefined && leavesScope(body, options.minIndent)) return 'newline';
      // Bytes that do not form UTF-8: stop before them rather than show replacement characters.
      if (body.includes('\uFFFD')) return 'eos';
    }
    return undefined;
  }

  /**
   * Up to `max` tokens that may follow the last generated one: an earlier continuation of the last tokens,
   * else the n-gram cache's. Cut after a line break that would end a single-line completion.
   */
  function findDrafts(max: number): number[] {
    if (max <= 0) return [];
    let drafts = lookupDraft(history, max);
    const ngrams = options.ngrams;
    if (drafts.length === 0 && ngrams && cacheEnabled(ngrams.params)) {
      draftRow ??= new Float32Array(V);
      drafts = cacheDraft(ngrams.cache, cacheContext(), ngrams.params.beta, max, draftRow);
    }
    if (maxLines === 1) {
      const end = drafts.findIndex((id) => {
        const b = rt.tokenizer.tokenBytes(id);
        return b.includes(10) || b.includes(13);
      });
      if (end >= 0) drafts = drafts.slice(0, end + 1);
    }
    return drafts;
  }

  /** The last tokens before the next one (prompt and generated, after any bos): the cache's context. */
  function cacheContext(): number[] {
    const context = history.slice(-MAX_CONTEXT);
    return context.slice(context.lastIndexOf(cfg.bos_token_id) + 1);
  }

  /**
   * The model's row mixed with the file's n-gram cache and the workspace's index (probabilities), or
   * undefined where neither has anything to add.
   */
  function mixCache(logits: Float32Array): Float32Array | undefined {
    let out: Float32Array | undefined;
    const ngrams = options.ngrams;
    if (ngrams && cacheEnabled(ngrams.params)) {
      const cacheDist = (cacheRow ??= new Float32Array(V));
      const match = ngrams.cache.distribution(cacheContext(), ngrams.params.beta, cacheDist);
      if (match) {
        out = mixedRow ??= new Float32Array(V);
        mixWithCache(logits, V, cacheDist, cacheWeight(ngrams.params, match), out);
      }
    }
    const ws = options.workspace;
    if (!ws) return out;
    const context = history.slice(-ws.params.maxLength);
    const found = ws.index.next(
      context.slice(context.lastIndexOf(cfg.bos_token_id) + 1),
      ws.params.maxLength,
      256,
      ws.exclude,
    );
    const { sampled, top } = sampleOf(found);
    const w = sampled > 0 ? workspaceWeight(ws.params, found.length, found.total, top) : 0;
    if (w === 0) return out;
    if (!out) {
      out = mixedRow ??= new Float32Array(V);
      mixWithCache(logits, V, out, 0, out); // the model's probabilities (weight 0: the row's contents unused)
    }
    for (let i = 0; i < V; i++) out[i] = out[i]! * (1 - w);
    for (const [id, c] of found.counts) out[id] = out[id]! + (w * c) / sampled;
    return out;
  }

  /** Whether the tokens generated so far show MIN_KEPT_CHARS non-space characters after the healed prefix. */
  function showsEnoughText(): boolean {
    const { text } = rt.tokenizer.decodeBytes(generated);
    return text.slice(healedPrefixLength(text)).replace(/\s/g, '').length >= MIN_KEPT_CHARS;
  }

  function healedPrefixLength(text: string): number {
    if (healBytes.length === 0) return 0;
    if (healed < healBytes.length) return text.length; // still inside the re-typed prefix: nothing new
    const healedText = Buffer.from(healBytes).toString('utf8');
    return text.startsWith(healedText) ? healedText.length : 0;
  }

  function finish(stop: Completion['stop']): Completion {
    const { text } = rt.tokenizer.decodeBytes(generated);
    let out = text.slice(healedPrefixLength(text));
    const bad = out.indexOf('\uFFFD');
    if (bad >= 0) out = out.slice(0, bad);
    out = out.replace(/\r\n?/g, '\n').split('\n').slice(0, maxLines).join('\n');
    result.text = out;
    result.tokens = generated.length;
    result.meanLogProb = generated.length > 0 ? logProbSum / generated.length : 0;
    result.stop = stop;
    result.cancelled = stop === 'cancelled';
    result.totalMs = performance.now() - t0;
    result.decodeMs = Math.max(0, result.totalMs - result.waitMs - result.prefillMs);
    return result;
  }
}
