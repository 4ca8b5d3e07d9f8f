// Reads a file (or a named pipe) for upload through one buffer, reused for every read. A read stream
// allocates a fresh buffer of its highWaterMark per read - 1 MiB even when a pipe gives 64 KiB, which
// it then copies out - and each is garbage at once: `dmfs upload` of a named pipe held up to 49 MiB of
// them between collections (docs/performance.md). The chunker copies every piece into a chunk before it
// asks for the next, so the pieces may share one buffer.
import { open } from "node:fs/promises";

const READ_BYTES = 1024 * 1024;

/**
 * The bytes of `file` in pieces, each valid only until the next is asked for (they share one buffer).
 * The file is opened on the first pull and closed when the pieces end, fail, or the consumer stops.
 */
export async function* filePieces(file: string): AsyncGenerator<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.allocUnsafeSlow(READ_BYTES);
    for (;;) {
      // position null: read on from the current position, which is all a named pipe can do.
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
