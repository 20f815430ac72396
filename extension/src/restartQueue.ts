/** Runs server restarts one after another, so that two restarts never overlap. */

export class RestartQueue {
  private last: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | undefined;

  constructor(private readonly restart: () => Promise<void>) {}

  /**
   * Queues a restart after the running one. Requests made while a restart is still waiting to
   * start share it: it will read the newest settings anyway.
   */
  request(): Promise<void> {
    if (this.waiting) {
      return this.waiting;
    }
    const next = this.last
      .catch(() => undefined)
      .then(() => {
        this.waiting = undefined;
        return this.restart();
      });
    this.waiting = next;
    this.last = next;
    return next;
  }

  /** Settles when every restart requested so far has finished. */
  idle(): Promise<void> {
    return this.last.catch(() => undefined);
  }
}
