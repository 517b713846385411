/**
 * Watches a model folder that failed to load, so that fixing it (copying the files back, finishing a
 * download) reloads the model without a window reload. Watches the nearest existing folder on the way to
 * it, since a missing folder cannot be watched. No editor API here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Disposable {
  dispose(): void;
}

/** Calls `onChange` (debounced by `settleMs`, so a copy in progress settles first) when `dir` changes. */
export function watchModelFolder(dir: string, onChange: () => void, settleMs = 1000): Disposable {
  let target = path.resolve(dir);
  while (!fs.existsSync(target) && path.dirname(target) !== target) target = path.dirname(target);
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(target, { persistent: false }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(onChange, settleMs);
    });
    // A watched folder that is deleted ends the watch with an error; the reload command still works.
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  return {
    dispose: () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
