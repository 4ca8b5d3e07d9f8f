// The free-space reserve of a node's disk: below it the node takes no new chunk copies, so the disk
// never fills to the last byte (the catalog, logs and the operating system still need room) and
// clients place copies on nodes with room instead. Reads, deletes and garbage collection go on.
import { statfs } from "node:fs/promises";
import { DmfsError } from "../errors.ts";
import { storeError } from "./store-errors.ts";

/** How much of its disk a node keeps free: a share of the file system's size, or a number of bytes. */
export type ReserveSetting = { percent: number } | { bytes: number };

export const DEFAULT_RESERVE: ReserveSetting = { percent: 5 };

export interface DiskSpace {
  /** Bytes of the file system, and bytes this process may still write to it. */
  totalBytes: number;
  freeBytes: number;
}

export interface DiskReserveOptions {
  reserve: ReserveSetting;
  /**
   * The largest copy a node is asked to take (a chunk's stored size). The node counts as full once a
   * copy of that size would no longer fit above the reserve, and as having room again only once two
   * would, so a disk hovering at the edge does not flap in and out of full with every write.
   */
  copyBytes: number;
  readSpace: () => Promise<DiskSpace>;
  /** Called once each time the node crosses into full and back out of it. */
  onChange?: (full: boolean, figures: { freeBytes: number; reserveBytes: number }) => void;
}

export class DiskReserve {
  #full = false;
  #reserveBytes = 0;
  /** Free bytes at the last statfs. */
  #diskFree = 0;
  /** Bytes of copies being written now: statfs does not see them yet. */
  #inFlight = 0;
  /** The statfs under way, which claims arriving meanwhile share rather than each making their own. */
  #reading: Promise<DiskSpace> | undefined;

  constructor(private readonly o: DiskReserveOptions) {}

  /** A reserve on the file system holding `dir`, read with statfs. */
  static forDirectory(dir: string, o: Omit<DiskReserveOptions, "readSpace">): DiskReserve {
    return new DiskReserve({
      ...o,
      readSpace: async () => {
        const s = await statfs(dir).catch((err: unknown) => {
          throw storeError(err, "read free space of", dir);
        });
        return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
      },
    });
  }

  /** Below the reserve (as of the last reading): takes no new copies. */
  get full(): boolean {
    return this.#full;
  }

  /** The reserve in bytes and the free bytes, as of the last reading. */
  figures(): { reserveBytes: number; freeBytes: number } {
    return { reserveBytes: this.#reserveBytes, freeBytes: this.#freeBytes() };
  }

  /** Free bytes less the copies being written, which the last statfs may not have seen. */
  #freeBytes(): number {
    return Math.max(0, this.#diskFree - this.#inFlight);
  }

  /** Reads the disk's free space now and updates `full`; resolves to it. */
  async refresh(): Promise<boolean> {
    // With many small chunks arriving at once a statfs each was a syscall per copy for the same answer.
    this.#reading ??= this.o.readSpace().finally(() => {
      this.#reading = undefined;
    });
    const space = await this.#reading;
    this.#reserveBytes = reserveBytesOf(this.o.reserve, space.totalBytes);
    this.#diskFree = space.freeBytes;
    if (this.#reserveBytes === 0) return this.#set(false);
    const room = this.#freeBytes() - this.#reserveBytes;
    if (!this.#full && room < this.o.copyBytes) return this.#set(true);
    if (this.#full && room >= 2 * this.o.copyBytes) return this.#set(false);
    return this.#full;
  }

  /**
   * Holds `bytes` of free space for a new copy, or refuses with E_DISK_FULL (a sentence without any
   * local path: it reaches clients). Call the returned function once the copy is written or failed.
   */
  async claim(bytes: number): Promise<() => void> {
    await this.refresh();
    // Checked and held with no await in between, so copies claimed at once never share the same room.
    if (this.#reserveBytes > 0 && (this.#full || this.#freeBytes() - bytes < this.#reserveBytes)) {
      throw new DmfsError(
        "E_DISK_FULL",
        `this node's disk is below its free-space reserve (${mib(this.#freeBytes())} free, reserve ${mib(this.#reserveBytes)}): it takes no new chunk copies`,
      );
    }
    this.#inFlight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= bytes;
    };
  }

  #set(full: boolean): boolean {
    if (full !== this.#full) {
      this.#full = full;
      this.o.onChange?.(full, { freeBytes: this.#freeBytes(), reserveBytes: this.#reserveBytes });
    }
    return full;
  }
}

export function reserveBytesOf(reserve: ReserveSetting, totalBytes: number): number {
  return "bytes" in reserve ? reserve.bytes : Math.ceil((totalBytes * reserve.percent) / 100);
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
