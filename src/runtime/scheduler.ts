/**
 * A tiny priority lock around the model: one unit of work runs at a time, and waiting foreground work
 * (a completion) goes before waiting background work (building a file's state). Background jobs are split
 * into short units so that a completion never waits long.
 */
export type Priority = 'foreground' | 'background';

interface Waiter {
  resolve: () => void;
}

export class ModelScheduler {
  private busy = false;
  private readonly fg: Waiter[] = [];
  private readonly bg: Waiter[] = [];

  /** Number of foreground requests waiting: background loops check it to yield early. */
  get foregroundWaiting(): number {
    return this.fg.length;
  }

  async run<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
    await this.acquire(priority);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(priority: Priority): Promise<void> {
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => (priority === 'foreground' ? this.fg : this.bg).push({ resolve }));
  }

  private release(): void {
    const next = this.fg.shift() ?? this.bg.shift();
    if (next) next.resolve();
    else this.busy = false;
  }
}
