// V8's incremental marking, tuned for heaps of objects, misfires on a process that streams megabyte
// buffers: every chunk's short-lived buffers restart it, and a node ran a full mark-compact every ~6 MB
// moved (162 per GiB uploaded and read back, a third of its CPU counting the marking threads).
// Without it, V8 collects the old generation only when it runs out of room: 27-36 full collections
// for the same GiB, each a short pause of a heap of ~20 MB. docs/performance.md has the measurements.
import { setFlagsFromString } from "node:v8";

/**
 * Turns off incremental marking for this process and the worker threads it starts afterwards. V8 reads
 * the flag each time it considers starting a marking cycle, so setting it at start-up takes effect.
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString("--no-incremental-marking");
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
