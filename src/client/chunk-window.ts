// How many chunks a client keeps in flight at once, each way. Sized in bytes, not chunks, because what a
// chunk waits for (a request frame and its answer, a write and two fsyncs per copy) hardly depends on its
// size: eight 64 KiB chunks in flight kept a 3-node cluster at ~4 MB/s where eight 1 MiB ones move 60+.

const MiB = 1024 * 1024;

/** Bytes in flight, and bounds in chunks: at least `min` (chunks over 1 MiB), at most `max` (tiny chunks). */
export interface WindowSize {
  bytes: number;
  min: number;
  max: number;
}

/** Uploads: 8 MiB bounds memory whatever the file size; 128 chunks keeps one upload from flooding a node. */
export const UPLOAD_WINDOW: WindowSize = { bytes: 8 * MiB, min: 8, max: 128 };

/**
 * Reads keep fewer bytes in flight: every fetched chunk is a frame body and a plaintext until written,
 * and four 1 MiB chunks already keep the pool busy while the next replies arrive.
 */
export const READ_WINDOW: WindowSize = { bytes: 4 * MiB, min: 4, max: 64 };

/** Chunks of `chunkSize` bytes in flight for `window`. */
export function windowOf(window: WindowSize, chunkSize: number): number {
  return Math.min(window.max, Math.max(window.min, Math.floor(window.bytes / chunkSize)));
}
