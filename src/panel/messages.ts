/**
 * What the gain panel's host and page say to each other. The host computes every number; the page only
 * renders a GainView. Messages from the page are untrusted input: parsePageMessage accepts only the few
 * known shapes, with bounded values.
 */
import type { GainBlock } from './blocks';
import type { CompletionStatsSnapshot } from './statsSource';

/** 'folded' and 'dropped': what the memory budget did to the state (fastweights.adaptation.maxMemoryMB). */
export type StateStatus = 'current' | 'folded' | 'rebuilding' | 'empty' | 'dropped' | 'none';

export interface GainView {
  /** Workspace-relative path, for display. */
  file: string;
  uri: string;
  language: string;
  /** Document version the evaluation scored, and whether the text has changed since. */
  evaluatedVersion: number;
  outdated: boolean;
  /** Progress of a re-evaluation running while these (older) numbers are shown. */
  evaluating: { done: number; total: number } | null;
  tokens: number;
  bytes: number;
  fileTokens: number;
  truncated: boolean;
  /**
   * What completions get now: the evaluation's adapted figures while the file's state holds tokens, the
   * static figures when the state is empty (reset, or not built yet).
   */
  staticBitsPerByte: number;
  adaptedBitsPerByte: number;
  wholeFileBitsPerByte: number;
  gainPct: number;
  wholeFileGainPct: number;
  /**
   * Whole file plus the file's n-gram cache (each token's cache from the text before it), as completions
   * mix them; null when the cache is off (fastweights.adaptation.fileCache) or the state is empty.
   */
  fileCache: { bitsPerByte: number; gainPct: number } | null;
  /**
   * The same plus the workspace index (what followed the same text elsewhere in the repository, the file's
   * own copy left out), as completions mix it; null when either is off or no index is built.
   */
  repository: {
    bitsPerByte: number;
    gainPct: number;
    /** The files whose repository state is added to this file's (workspace-relative), most related first. */
    files?: string[];
  } | null;
  /** The evaluation's adapted figures, whatever the state: what a (re)built state gives this text. */
  evaluated: { adaptedBitsPerByte: number; wholeFileBitsPerByte: number; gainPct: number };
  state: { status: StateStatus; tokens: number; bytes: number };
  linesPerBlock: number;
  blocks: GainBlock[];
  /** null until the completion pipeline hands the panel its statistics. */
  completions: { file: CompletionStatsSnapshot; session: CompletionStatsSnapshot } | null;
  runtime: RuntimeView;
  seconds: number;
}

export interface RuntimeView {
  provider: string;
  requested: string;
  fallbackReason: string | null;
  model: string;
  /** Graph precision the worker runs ('fp32' or 'int8'): `fastweights eval --precision` reproduces the figures. */
  precision: string;
  /** e.g. "6 layers, d_model 256, vocabulary 8,192"; empty when the model folder cannot be read. */
  modelShape: string;
  modelDiskBytes: number;
  statesBytes: number;
  statesCount: number;
}

export type PanelMessage =
  | { type: 'progress'; file: string; done: number; total: number }
  | { type: 'report'; report: GainView }
  | { type: 'error'; message: string }
  | { type: 'empty'; message: string };

/** What the page shows in its headline, as text: lets tests check the rendered panel. */
export interface RenderedHeadline {
  file: string;
  static: string;
  adapted: string;
  gain: string;
  stateTokens: string;
  stateStatus: string;
}

export type PageMessage =
  | { type: 'ready' }
  | { type: 'resetFile' }
  | { type: 'resetAll' }
  | { type: 'reveal'; startLine: number; endLine: number }
  | { type: 'rendered'; headline: RenderedHeadline };

const MAX_TEXT = 500;
const HEADLINE_KEYS: (keyof RenderedHeadline)[] = [
  'file',
  'static',
  'adapted',
  'gain',
  'stateTokens',
  'stateStatus',
];

const isLine = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 1e8;

/** The page's message if it is one of the known shapes, else undefined (ignored). */
export function parsePageMessage(raw: unknown): PageMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m['type']) {
    case 'ready':
    case 'resetFile':
    case 'resetAll':
      return { type: m['type'] };
    case 'reveal': {
      const startLine = m['startLine'];
      const endLine = m['endLine'];
      if (!isLine(startLine) || !isLine(endLine) || endLine < startLine) return undefined;
      return { type: 'reveal', startLine, endLine };
    }
    case 'rendered': {
      const h = m['headline'];
      if (typeof h !== 'object' || h === null) return undefined;
      const headline = {} as RenderedHeadline;
      for (const key of HEADLINE_KEYS) {
        const v = (h as Record<string, unknown>)[key];
        if (typeof v !== 'string' || v.length > MAX_TEXT) return undefined;
        headline[key] = v;
      }
      return { type: 'rendered', headline };
    }
    default:
      return undefined;
  }
}
