/**
 * Runs an async task in response to requests, one run at a time: after the last request it waits `quietMs`
 * (typing usually comes in bursts), but never longer than `maxWaitMs` after the first waiting request, so a
 * long burst still gets updates. A request during a run leads to exactly one more run after it.
 */
export class Throttle {
  private timer: NodeJS.Timeout | undefined;
  private firstWaitingAt: number | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private disposed = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly quietMs: number,
    private readonly maxWaitMs: number,
  ) {}

  request(): void {
    if (this.disposed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const now = Date.now();
    this.firstWaitingAt ??= now;
    const delay = Math.max(0, Math.min(this.quietMs, this.firstWaitingAt + this.maxWaitMs - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), delay);
  }

  /** Runs now, skipping the wait (or once more right after the current run). */
  runNow(): void {
    if (this.disposed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.start();
  }

  /** True while a run is waiting or in progress. */
  get busy(): boolean {
    return this.timer !== undefined || this.running !== undefined || this.again;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.firstWaitingAt = undefined;
    this.again = false;
    this.running = this.task()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.disposed) this.request();
        this.again = false;
      });
  }
}
