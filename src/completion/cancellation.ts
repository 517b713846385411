/**
 * Cancellation stage: the token shape shared with VS Code and the model client, a source for code that
 * cancels by itself (the replay tool, tests), and the rule that a newer request for a document cancels the
 * older one, so its generation is aborted in the worker rather than left to finish.
 */
export interface Disposable {
  dispose(): void;
}

/** Structurally a vscode.CancellationToken and the model client's Cancellable. */
export interface CancellationSignal {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): Disposable;
}

export class CancellationSource {
  private cancelled = false;
  private listeners: (() => void)[] = [];
  readonly token: CancellationSignal;

  constructor() {
    const isCancelled = (): boolean => this.cancelled;
    this.token = {
      get isCancellationRequested(): boolean {
        return isCancelled();
      },
      onCancellationRequested: (listener) => this.subscribe(listener),
    };
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) l();
  }

  /** A source that is cancelled with `token` as well (the link is dropped by dispose()). */
  static linkedTo(token: CancellationSignal): { source: CancellationSource; dispose(): void } {
    const s = new CancellationSource();
    const sub = token.onCancellationRequested(() => s.cancel());
    if (token.isCancellationRequested) s.cancel();
    return { source: s, dispose: () => sub.dispose() };
  }

  private subscribe(listener: () => void): Disposable {
    if (this.cancelled) {
      listener();
      return { dispose: () => undefined };
    }
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
}

export const NEVER_CANCELLED: CancellationSignal = {
  isCancellationRequested: false,
  onCancellationRequested: () => ({ dispose: () => undefined }),
};

/** Resolves when `token` fires; dispose() drops the listener when the caller no longer waits. */
export function whenCancelled(token: CancellationSignal): { promise: Promise<void>; dispose(): void } {
  let sub: Disposable | undefined;
  const promise = new Promise<void>((resolve) => {
    if (token.isCancellationRequested) resolve();
    else sub = token.onCancellationRequested(() => resolve());
  });
  return { promise, dispose: () => sub?.dispose() };
}

/** One live request per document: starting a new one cancels the one before it. */
export class LatestRequest {
  private readonly current = new Map<string, CancellationSource>();

  begin(key: string): CancellationSource {
    this.current.get(key)?.cancel();
    const s = new CancellationSource();
    this.current.set(key, s);
    return s;
  }

  /** Forgets `source` if it is still the live one (it finished). */
  end(key: string, source: CancellationSource): void {
    if (this.current.get(key) === source) this.current.delete(key);
  }

  cancel(key: string): void {
    this.current.get(key)?.cancel();
    this.current.delete(key);
  }

  cancelAll(): void {
    for (const s of this.current.values()) s.cancel();
    this.current.clear();
  }
}
