// Results that finish out of order (chunks sealed and written in parallel) handed on in order, one at a
// time: the file key and the manifest tree take chunks in file order. `put` resolves once its own item
// has been taken, so a caller running at most N puts at once keeps at most N items waiting.

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class InOrder<T> {
  private readonly waiting = new Map<number, Waiting<T>>();
  private next = 0;
  private draining = false;
  private failure: { err: unknown } | undefined;

  constructor(private readonly take: (item: T) => Promise<void> | void) {}

  /** Hands item number `index` (0, 1, 2, ... each once) on after every item before it. */
  put(index: number, item: T): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.err);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(index, { item, resolve, reject });
      void this.drain();
    });
  }

  /**
   * An item that will never be put (its work failed): every item waiting, and every later put, fails
   * with `err` - they could only be taken after it.
   */
  abort(err: unknown): void {
    this.fail(err);
  }

  private fail(err: unknown): void {
    this.failure ??= { err };
    for (const w of this.waiting.values()) w.reject(this.failure.err);
    this.waiting.clear();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (
      let w = this.waiting.get(this.next);
      w !== undefined && !this.failure;
      w = this.waiting.get(this.next)
    ) {
      this.waiting.delete(this.next);
      this.next++;
      try {
        await this.take(w.item);
        w.resolve();
      } catch (err) {
        // Nothing after a failed item can be taken in order: fail the waiting ones too.
        w.reject(err);
        this.fail(err);
      }
    }
    this.draining = false;
  }
}
