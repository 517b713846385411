/**
 * Debounce stage: wait for a quiet moment after a keystroke before asking the model. A keystroke inside the
 * wait cancels the request (the editor fires the token), so a burst of typing starts no generation at all.
 */
import { CancellationSignal, whenCancelled } from './cancellation';

/** Waits `ms`; injectable so the replay tool can run on a virtual clock. */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when the quiet time ran out and the request should go on; false when it was cancelled. */
export async function debounce(
  ms: number,
  token: CancellationSignal,
  sleep: Sleep = realSleep,
): Promise<boolean> {
  if (token.isCancellationRequested) return false;
  if (ms <= 0) return true;
  const cancelled = whenCancelled(token);
  try {
    await Promise.race([sleep(ms), cancelled.promise]);
  } finally {
    cancelled.dispose();
  }
  return !token.isCancellationRequested;
}
