// At most N tasks at once; the others wait their turn in order of arrival. The crypto pool runs its
// tasks through one, so its queue stays bounded: a caller over the limit waits here, before anything
// is handed (and copied or transferred) to the pool.

export class FifoGate {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`a gate needs room for at least one task`);
    this.#limit = limit;
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
    if (this.#running >= this.#limit || this.#waiting.length > 0) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The room passes straight to the next in line, so a newcomer cannot take it first.
      if (next) next();
      else this.#running -= 1;
    }
  }
}
