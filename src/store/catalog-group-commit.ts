// Group commit for catalog writes. With synchronous = FULL every SQLite commit is an fsync, made on the
// event loop; a gateway taking many small uploads at once would fsync once per file while every socket
// waits. Writes that arrive in the same turn of the event loop (several frames read at once, or all
// those that queued during the previous commit's fsync) are committed together instead: one
// transaction, one fsync, and each caller learns its own result only once that transaction is durable.
import type { CatalogEntry } from "../cluster/types.ts";
import type { Catalog } from "./catalog.ts";

interface PendingWrite {
  entries: readonly CatalogEntry[];
  resolve: (stored: number) => void;
  reject: (err: unknown) => void;
}

export class CatalogGroupCommit {
  #pending: PendingWrite[] = [];
  #scheduled = false;

  constructor(private readonly catalog: Catalog) {}

  /**
   * Stores every entry that wins last-writer-wins for its path, in the next group transaction; resolves
   * to how many did once it is committed, or rejects with the error that rolled it back.
   */
  apply(entries: readonly CatalogEntry[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ entries, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#commit());
    });
  }

  #commit(): void {
    const writes = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    let won: boolean[];
    try {
      won = this.catalog.applyEach(writes.flatMap((w) => w.entries));
    } catch (err) {
      for (const write of writes) write.reject(err);
      return;
    }
    let next = 0;
    for (const write of writes) {
      const mine = won.slice(next, next + write.entries.length);
      next += write.entries.length;
      write.resolve(mine.filter(Boolean).length);
    }
  }
}
