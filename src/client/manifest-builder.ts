// Builds a manifest tree (src/client/manifest.ts) while an upload streams: chunk entries come in file
// order, and each index object is written as soon as it is full, so memory holds at most `fanOut`
// entries per level whatever the file size. `finish` writes the rest bottom-up and the root last.
// A file composed of others (S3 multipart) starts higher: its entries are its parts' root entries, all of
// one level, and the builder groups those the same way.
import { DmfsError } from "../errors.ts";
import { encodeIndexObject, type IndexEntry, MAX_INDEX_ENTRIES, plaintextOf } from "./manifest.ts";

/** Entries per index object an upload writes (the design's ~1,000: about 80 KB per object). */
export const DEFAULT_INDEX_FAN_OUT = 1000;

/** Stores one index object's bytes like a chunk; resolves to its id once the write is acknowledged. */
export type StoreObject = (bytes: Buffer) => Promise<string>;

export class ManifestBuilder {
  /** Entries not yet written, per level (0: chunks). A level holds at most `fanOut`. */
  private readonly levels: IndexEntry[][];
  private chunkCount = 0;

  /** `baseLevel`: the level of the entries `addEntry` takes (0, chunks, unless composing). */
  constructor(
    private readonly chunkSize: number,
    private readonly fanOut: number,
    private readonly store: StoreObject,
    private readonly baseLevel = 0,
  ) {
    if (!Number.isInteger(fanOut) || fanOut < 2 || fanOut > MAX_INDEX_ENTRIES) {
      throw new DmfsError(
        "E_CONFIG",
        `index fan-out must be a whole number from 2 to ${MAX_INDEX_ENTRIES}, got ${fanOut}`,
      );
    }
    this.levels = Array.from({ length: baseLevel + 1 }, () => []);
  }

  get chunks(): number {
    return this.chunkCount;
  }

  /** The next chunk of the file (call in file order, one at a time). */
  async add(chunkId: string, storedLength: number, plaintextLength: number): Promise<void> {
    this.chunkCount++;
    await this.push(0, [chunkId, storedLength, plaintextLength]);
  }

  /** The next entry of the file at the base level, in file order: a chunk, or an index object of level base-1. */
  async addEntry(entry: IndexEntry): Promise<void> {
    await this.push(this.baseLevel, entry);
  }

  /** Writes what is left and the root; resolves to the root's id (the manifest id) and the file size. */
  async finish(): Promise<{ manifestId: string; size: number }> {
    for (let level = 0; ; level++) {
      const entries = this.levels[level] as IndexEntry[];
      if (level === this.levels.length - 1) {
        const size = plaintextOf(entries);
        const root = encodeIndexObject({ level, entries, file: { chunkSize: this.chunkSize, size } });
        return { manifestId: await this.store(root), size };
      }
      if (entries.length > 0) await this.emit(level);
    }
  }

  /** A level's object is written only when an entry arrives for a full level: the root may stay unwritten. */
  private async push(level: number, entry: IndexEntry): Promise<void> {
    if (this.levels[level]?.length === this.fanOut) await this.emit(level);
    const pending = this.levels[level] ?? [];
    this.levels[level] = pending;
    pending.push(entry);
  }

  private async emit(level: number): Promise<void> {
    const entries = this.levels[level] as IndexEntry[];
    this.levels[level] = [];
    const bytes = encodeIndexObject({ level, entries });
    const id = await this.store(bytes);
    await this.push(level + 1, [id, bytes.length, plaintextOf(entries)]);
  }
}
