// An async iterator that can look ahead: `hasAtLeast(n)` pulls up to n items from the source and keeps
// them, and iterating yields those first, then the rest. An upload uses it to learn whether a file has
// more than one chunk before deciding whether to ask the gateway for a quorum check up front.

export class Lookahead<T> implements AsyncIterable<T> {
  readonly #source: AsyncIterator<T>;
  readonly #ahead: T[] = [];
  #done = false;

  constructor(source: AsyncIterable<T>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Whether the source yields at least `n` more items (reading at most `n` of them ahead). */
  async hasAtLeast(n: number): Promise<boolean> {
    while (this.#ahead.length < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done) this.#done = true;
      else this.#ahead.push(next.value);
    }
    return this.#ahead.length >= n;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.#ahead.length > 0) {
          yield this.#ahead.shift() as T;
          continue;
        }
        if (this.#done) return;
        const next = await this.#source.next();
        if (next.done) {
          this.#done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      // A consumer that stops early (a failed upload) closes the source too, as for await would.
      await this.close();
    }
  }

  /** Drops what was read ahead and closes the source, if it is not finished. */
  async close(): Promise<void> {
    this.#ahead.length = 0;
    if (this.#done) return;
    this.#done = true;
    await this.#source.return?.();
  }
}
