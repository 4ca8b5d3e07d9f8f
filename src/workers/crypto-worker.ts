// Entry of the crypto pool's worker threads: seals, opens and hashes chunks so the main thread never
// touches a whole chunk. Piscina imports this file once per thread and calls its default export.
import { setFlagsFromString } from "node:v8";
import { workerData } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { loadBlake3, loadBulkBlake3 } from "../crypto/blake3.ts";
import { chunkIdOf, openChunk, sealChunk } from "../crypto/chunk-format.ts";
import { type CryptoTask, type CryptoWorkerData, serializeError, transferable } from "./crypto-task.ts";
import { DeadBufferSweeper } from "./dead-buffer-sweeper.ts";

const { backend, v8Flags } = workerData as CryptoWorkerData;
// Making this thread's heap may have reset these for the whole process (CryptoPoolOptions.v8Flags).
for (const flag of v8Flags) setFlagsFromString(flag);
// The pool exposes `gc` to its threads (CryptoPool); a thread started some other way just does without.
const sweeper = new DeadBufferSweeper(globalThis.gc);

// No top-level await here: piscina first require()s the entry, and from TypeScript source that is the
// only way in (on Node 20 no ESM loader hooks run in worker threads, so tsx works there through its
// CommonJS transform), which cannot load a module with top-level await. loadBlake3 memoises, so
// awaiting it per task costs one microtask.
export default async function runCryptoTask(task: CryptoTask): Promise<unknown> {
  const hasher = await (backend === undefined ? loadBulkBlake3() : loadBlake3(backend));
  try {
    switch (task.op) {
      case "seal": {
        const { plaintext } = task;
        const { stored, chunkId, h } = sealChunk(hasher, task.keys, plaintext, task.into);
        const movedStored = transferable(stored);
        // The cipher's output was copied into `stored` and is garbage now.
        sweeper.dropped(plaintext.byteLength);
        // The plaintext goes back too, so the caller can fill it with the next chunk.
        return moveBack({ stored: movedStored, chunkId, h, plaintext }, [
          movedStored.buffer,
          plaintext.buffer as ArrayBuffer,
        ]);
      }
      case "open": {
        const opened = openChunk(hasher, task.keys, task.stored, task.chunkId);
        sweeper.dropped(task.stored.byteLength); // the stored bytes it was given stay here, dead
        const { into } = task;
        if (into?.byteLength === opened.plaintext.byteLength) {
          // The caller's buffer goes back instead of the decipher's output, which dies here, young.
          into.set(opened.plaintext);
          sweeper.dropped(opened.plaintext.byteLength);
          return moveBack({ plaintext: into, h: opened.h }, [into.buffer]);
        }
        const plaintext = transferable(opened.plaintext);
        return moveBack({ plaintext, h: opened.h }, [plaintext.buffer]);
      }
      case "hash": {
        // The view may sit inside a larger buffer that was transferred whole; it goes back the same way.
        const { bytes } = task;
        return moveBack({ id: chunkIdOf(hasher, bytes), bytes }, [bytes.buffer as ArrayBuffer]);
      }
      case "backend":
        return hasher.backend;
    }
  } catch (err) {
    throw serializeError(err);
  }
}

// Piscina transfers only what a moved result names, so a result object names its big buffers.
function moveBack(value: object, buffers: ArrayBuffer[]): unknown {
  return move({ [transferableSymbol]: buffers, [valueSymbol]: value });
}
