// At most N tasks at once; the others wait their turn in order of arrival. The crypto pool runs its
// tasks through one, so its queue stays bounded: a caller over the limit waits here, before anything
// is handed (and copied or transferred) to the pool. The S3 gateway's uploads share one as their budget
// of chunks in flight (FileClientOptions.uploadGate).

export class FifoGate {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`a gate needs room for at least one task`);
    this.#limit = limit;
  }

  /** Tasks allowed at once. */
  get limit(): number {
    return this.#limit;
  }

  /** Tasks running now (at most the limit). */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for room. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once fewer than `limit` tasks run, after every task that arrived before it. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const leave = await this.enter();
    try {
      return await task();
    } finally {
      leave();
    }
  }

  /**
   * Waits for room as `run` does and takes it; the caller must call the returned function exactly once
   * when its task is over (later calls do nothing), for a task that does not fit in one function.
   */
  async enter(): Promise<() => void> {
    if (this.#running >= this.#limit || this.#waiting.length > 0) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = this.#waiting.shift();
      // The room passes straight to the next in line, so a newcomer cannot take it first.
      if (next) next();
      else this.#running -= 1;
    };
  }
}
