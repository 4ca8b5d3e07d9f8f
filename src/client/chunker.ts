// Cuts a byte stream into fixed-size chunks for upload. Pull-based: the source is read only as fast as the
// consumer asks for chunks, so a file of any size passes through a window of at most one chunk here.
import type { Readable } from "node:stream";
import { DmfsError } from "../errors.ts";
import type { BufferRecycler } from "./buffer-recycler.ts";

/**
 * Yields `chunkSize`-byte chunks of `source` (the last one shorter; nothing for an empty source).
 * Each chunk owns its whole ArrayBuffer (byteOffset 0) so it can be transferred to a worker thread.
 * Input bytes are copied once, except the final partial chunk, which is copied again into a buffer of
 * its exact length (Node 20 has no ArrayBuffer.prototype.transfer to shrink it in place). Full-size
 * buffers come from `buffers` when given (the caller gives them back once done with a chunk), and the
 * one a final partial chunk was copied out of goes straight back to it.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Readable,
  chunkSize: number,
  buffers?: BufferRecycler,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new DmfsError("E_CONFIG", `chunk size must be a positive whole number of bytes, got ${chunkSize}`, {
      subject: "chunkSize",
    });
  }
  let chunk: Uint8Array<ArrayBuffer> | undefined;
  let filled = 0;
  for await (const piece of source as AsyncIterable<unknown>) {
    if (!(piece instanceof Uint8Array)) {
      throw new DmfsError(
        "E_IO",
        "the input stream yielded something other than bytes (text, from a stream with an encoding?)",
      );
    }
    let consumed = 0;
    while (consumed < piece.byteLength) {
      chunk ??= buffers?.size === chunkSize ? buffers.take() : new Uint8Array(chunkSize);
      const take = Math.min(chunkSize - filled, piece.byteLength - consumed);
      chunk.set(piece.subarray(consumed, consumed + take), filled);
      filled += take;
      consumed += take;
      if (filled === chunkSize) {
        yield chunk;
        chunk = undefined;
        filled = 0;
      }
    }
  }
  // A chunk is only allocated once there are bytes for it, so a pending one is never empty.
  if (chunk !== undefined) {
    // A copy of its own: on a Buffer (what the recycler hands out) `slice` is a view, and the buffer goes
    // back for another upload to fill while this chunk may still wait to be sealed.
    const last = new Uint8Array(filled);
    last.set(chunk.subarray(0, filled));
    buffers?.give(chunk);
    yield last;
  }
}
