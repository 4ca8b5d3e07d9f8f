// V8's incremental marking, tuned for heaps of objects, misfires on a process that streams megabyte
// buffers: every chunk's short-lived buffers restart it, and a node ran a full mark-compact every ~6 MB
// moved (162 per GiB uploaded and read back, a third of its CPU counting the marking threads).
// Without it, V8 collects the old generation only when it runs out of room: 27-36 full collections
// for the same GiB, each a short pause of a heap of ~20 MB. docs/performance.md has the measurements.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Turns off incremental marking for this process and the worker threads it starts afterwards. V8 reads
 * the flag each time it considers starting a marking cycle, so setting it at start-up takes effect.
 *
 * Also keeps the young generation at its initial size (1 MiB semi-spaces) instead of letting V8 double
 * it up to 16 MiB: a client's garbage is per-chunk objects and buffers, which a small young generation
 * frees sooner, while a grown one stayed resident (32 MiB) for the life of the command. The semi-space
 * limit is fixed when the heap is made, but V8 reads the growth factor each time it would grow, so this
 * must run before the command line's modules load (main.ts), which is what first grows it. With it,
 * `dmfs upload` of 512 MiB in 64 KiB chunks peaked at 124-125 MiB instead of 150-155 and `dmfs read` at
 * 123-128 instead of 170-176 (docs/performance.md). `dmfs node` lets it grow again (tuneServerGarbageCollection).
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString("--no-incremental-marking");
  setFlagsFromString(SMALL_YOUNG_GENERATION);
}

/**
 * The flag that keeps the young generation small. V8 puts it back to 2 whenever it makes a heap, as
 * for each worker thread: a client's crypto pool sets it again from its threads (CryptoPoolOptions).
 */
export const SMALL_YOUNG_GENERATION = "--semi-space-growth-factor=1";

/**
 * For a node, a server that runs for days with many connections: V8's own young-generation growth
 * (factor 2, its default), which its memory and CPU figures were measured with. (Its crypto pool's
 * threads would put it back anyway.)
 */
export function tuneServerGarbageCollection(): void {
  setFlagsFromString("--semi-space-growth-factor=2");
}

/**
 * For `dmfs ls`, which decodes and decrypts the catalog's pages: hundreds of thousands of small objects
 * that live a page each. In a young generation kept at 1 MiB they outlive two scavenges and are promoted,
 * and the old generation grew to 228 MiB for a listing of 200,000 entries (the 200 MiB bound of
 * listing-at-scale.test.ts). V8's own growth lets them die young, as they did before.
 */
export function tuneListingGarbageCollection(): void {
  setFlagsFromString("--semi-space-growth-factor=2");
}

/**
 * For the file commands (a client streaming a file): V8 also grows the heap less between full
 * collections. With small chunks a client makes a few objects per chunk that live a round trip, long
 * enough to reach the old generation, and V8 let it grow to about four times the live size before
 * collecting: an upload of 1.5 GiB in 64 KiB chunks peaked at 200 MiB (see docs/architecture.md).
 */
export function tuneClientGarbageCollection(): void {
  setFlagsFromString("--optimize-for-size");
}

/** How often a file command collects its whole heap (collectPeriodically). */
export const FULL_COLLECTION_EVERY_MS = 5_000;

/**
 * Runs a full collection of this thread's heap every `everyMs` until the returned function is called.
 * A file command's young generation is small (tuneGarbageCollection), so the objects of a chunk that
 * live a round trip are promoted, and with incremental marking off V8 collected the old generation only
 * at its limit: an upload of 1.5 GiB in 64 KiB chunks to three nodes reached 75 MiB of old generation
 * over a live heap of 25 MiB, with no full collection in its last 190 s (peak RSS 177 MiB; 130 MiB with this). One collection of that heap takes
 * 25-50 ms, so every 5 s costs under 1% of a core. `gc` comes from a fresh context: --expose-gc, set
 * now, adds it to contexts made from then on only, and it collects the whole isolate's heap.
 */
export function collectPeriodically(
  everyMs = FULL_COLLECTION_EVERY_MS,
  busy: () => boolean = () => true,
): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as NodeJS.GCFunction;
  // A long-lived process (the S3 gateway) says through `busy` whether it worked since the last tick:
  // an idle one has made no garbage and is not collected again.
  const timer = setInterval(() => {
    if (busy()) gc();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
