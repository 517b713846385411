/**
 * The token ids of the workspace's files, kept from one index build to the next (issue 24): the index is
 * rebuilt whole after a change (suffixIndex.ts), but only the files whose text changed are tokenized again,
 * which is most of a build's time (a 1M-token workspace: about 3 s of tokenizing, 0.4 s of suffix array).
 * Each file is checked by a hash of its text, so a renamed file keeps its ids and an edited one never does.
 */
import { createHash } from 'node:crypto';

export interface WorkspaceFile {
  uri: string;
  text: string;
}

export class WorkspaceTokens {
  private readonly byUri = new Map<string, { hash: string; ids: Uint16Array }>();
  /** Files tokenized by the last update (the others were found unchanged). */
  tokenized = 0;

  constructor(private readonly encode: (text: string) => readonly number[]) {}

  /**
   * The ids of each of `files`, in order, tokenizing only new or changed text; files not listed are
   * forgotten. `pause` runs before each tokenization (the worker yields to completions there); when
   * `stopped()` turns true the update gives up and returns undefined, keeping what it has tokenized.
   */
  async update(
    files: readonly WorkspaceFile[],
    pause: () => Promise<void>,
    stopped: () => boolean,
    progress?: (done: number, total: number) => void,
  ): Promise<Uint16Array[] | undefined> {
    const previous = new Map<string, Uint16Array>();
    for (const entry of this.byUri.values()) previous.set(entry.hash, entry.ids);
    const next = new Map<string, { hash: string; ids: Uint16Array }>();
    const out: Uint16Array[] = [];
    this.tokenized = 0;
    for (const f of files) {
      const hash = createHash('sha1').update(f.text).digest('hex');
      let ids = previous.get(hash);
      if (!ids) {
        await pause();
        if (stopped()) {
          for (const [uri, entry] of next) this.byUri.set(uri, entry);
          return undefined;
        }
        ids = toUint16(this.encode(f.text));
        previous.set(hash, ids);
        this.tokenized++;
      }
      next.set(f.uri, { hash, ids });
      out.push(ids);
      progress?.(out.length, files.length);
    }
    this.byUri.clear();
    for (const [uri, entry] of next) this.byUri.set(uri, entry);
    return out;
  }

  /** Files held (after an update that gave up, the earlier list's too). */
  get size(): number {
    return this.byUri.size;
  }

  /** Bytes of the ids held. */
  get byteLength(): number {
    let n = 0;
    for (const e of this.byUri.values()) n += e.ids.byteLength;
    return n;
  }

  clear(): void {
    this.byUri.clear();
  }
}

function toUint16(ids: readonly number[]): Uint16Array {
  const out = new Uint16Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id <= 0xffff)) throw new Error(`token id ${id} out of range`);
    out[i] = id;
  }
  return out;
}
