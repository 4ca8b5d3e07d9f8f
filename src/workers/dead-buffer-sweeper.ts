// Frees a worker thread's dead chunk buffers promptly. Every seal leaves the cipher's 1 MiB output
// behind, every open the stored chunk it was given; they die young, but V8 only scavenges a thread whose
// JavaScript heap fills up or that holds 32 MiB of young buffers, and with incremental marking off
// (src/cli/garbage-collection.ts) the old generation waits longer still. A client's crypto thread kept
// 30-60 MiB of such garbage resident: `dmfs upload` of 1 GiB peaked at 182-188 MiB, and at 150-158 MiB
// with a young-generation collection (a scavenge of a heap of a few MB) after every 8 MiB of dead
// buffers, at the same speed (docs/performance.md).

/** Dead buffer bytes after which the thread scavenges its young generation. */
export const SWEEP_EVERY_BYTES = 8 * 1024 * 1024;

export class DeadBufferSweeper {
  #dead = 0;

  /** `collect` is V8's `gc` when the process set --expose-gc before this thread started; else nothing happens. */
  constructor(private readonly collect: NodeJS.GCFunction | undefined) {}

  /** Notes `bytes` of buffers just dropped; scavenges once SWEEP_EVERY_BYTES have gathered. */
  dropped(bytes: number): void {
    this.#dead += bytes;
    if (this.#dead < SWEEP_EVERY_BYTES || this.collect === undefined) return;
    this.#dead = 0;
    this.collect({ type: "minor" });
  }
}
