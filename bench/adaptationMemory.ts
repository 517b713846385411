/**
 * Adaptation memory (issue 25): what one open file holds, and how many 800-line files stay adapted together
 * within the default budget (fastweights.adaptation.maxMemoryMB), through the worker's DocumentStates.
 */
import { DEFAULT_BUDGET_BYTES, DocumentStates } from '../src/adaptation/documentStates';
import type { FastWeightsRuntime } from '../src/runtime';

const FILE_LINES = 800;
/** Files opened one after the other for adapted_files_in_budget (the target is 20). */
const MAX_FILES = 24;

export interface AdaptationMemory {
  /** Lines and tokens of the first 800-line file, and all its adaptation bytes while it is the active one. */
  fileTokens: number;
  activeMb: number;
  /** Where the active file's bytes go (MB): contributions, snapshots, traces, sums, ngrams. */
  activeMbByPart: Record<string, number>;
  /** The same file's bytes once the budget folded it (files used after it filled the budget). */
  foldedMb: number | undefined;
  mbPer1kTokens: number;
  foldedMbPer1kTokens: number | undefined;
  /** Of `opened` 800-line files opened one after the other, how many still hold a state. */
  filesInBudget: number;
  opened: number;
  folded: number;
  budgetMb: number;
  ms: number;
}

/** 800-line windows of `text`, each starting at a line of its own. */
function fileWindows(text: string, count: number): string[] {
  const lines = text.split('\n');
  const step = Math.max(1, Math.floor((lines.length - FILE_LINES) / Math.max(1, count - 1)));
  const out: string[] = [];
  for (let i = 0; i < count && i * step + FILE_LINES <= lines.length; i++) {
    out.push(lines.slice(i * step, i * step + FILE_LINES).join('\n'));
  }
  return out;
}

export async function measureAdaptationMemory(
  rt: FastWeightsRuntime,
  text: string,
): Promise<AdaptationMemory> {
  const t0 = performance.now();
  const files = fileWindows(text, MAX_FILES);
  const states = new DocumentStates({ editDebounceMs: 0, openDelayMs: 0 }); // the default budget
  states.setRuntime(rt);
  const uri = (i: number): string => `bench://memory/file${i}.ts`;
  let activeMb = 0;
  let activeMbByPart: Record<string, number> = {};
  let fileTokens = 0;
  let foldedMb: number | undefined;
  for (let i = 0; i < files.length; i++) {
    const body = files[i]!;
    // The cursor in the middle of the file, as a person working in it.
    states.opened({
      uri: uri(i),
      version: 1,
      getText: () => body,
      cursorOffset: Math.floor(body.length / 2),
    });
    await states.whenIdle(uri(i));
    if (i === 0) {
      const info = states.info(uri(0))!;
      activeMb = info.bytes / 1048576;
      activeMbByPart = Object.fromEntries(
        Object.entries(info.bytesByPart ?? {}).map(([part, bytes]) => [part, bytes / 1048576]),
      );
      fileTokens = info.tokens;
    }
  }
  // The first file, the least recently used, is folded first once the budget binds.
  const first = states.info(uri(0));
  if (first?.folded) foldedMb = first.bytes / 1048576;
  let held = 0;
  let folded = 0;
  for (let i = 0; i < files.length; i++) {
    const info = states.info(uri(i));
    if (info && info.tokens > 0) held++;
    if (info?.folded) folded++;
  }
  const budgetMb = DEFAULT_BUDGET_BYTES / 1048576;
  states.dispose();
  const per1k = (mb: number): number => (1000 * mb) / Math.max(1, fileTokens);
  return {
    fileTokens,
    activeMb,
    activeMbByPart,
    foldedMb,
    mbPer1kTokens: per1k(activeMb),
    foldedMbPer1kTokens: foldedMb === undefined ? undefined : per1k(foldedMb),
    filesInBudget: held,
    opened: files.length,
    folded,
    budgetMb,
    ms: performance.now() - t0,
  };
}
