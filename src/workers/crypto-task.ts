// The contract between CryptoPool and its worker threads: the task messages, how buffers cross the
// thread boundary (transferred, never cloned), and how a DmfsError survives the crossing.
import type { Blake3Backend } from "../crypto/blake3.ts";
import type { ChunkKeys } from "../crypto/chunk-format.ts";
import { DmfsError, type ErrorCode, ErrorCodes } from "../errors.ts";

/**
 * `backend` unset: the bulk backend (loadBulkBlake3), which each thread resolves the same way.
 * `v8Flags`: set again by each thread once it runs (CryptoPoolOptions.v8Flags).
 */
export type CryptoWorkerData = { backend: Blake3Backend | undefined; v8Flags: string[] };

export type CryptoTask =
  | { op: "seal"; keys: ChunkKeys; plaintext: Uint8Array; into?: Uint8Array<ArrayBuffer> }
  | { op: "open"; keys: ChunkKeys; stored: Uint8Array; chunkId: string; into?: Uint8Array<ArrayBuffer> }
  | { op: "hash"; bytes: Uint8Array }
  | { op: "backend" };

/**
 * A view that can be transferred to another thread: the view itself when it spans the whole of its
 * own ArrayBuffer, otherwise a copy. Transferring detaches the entire ArrayBuffer, so a partial view
 * (a subarray of a decoded network frame, a small Buffer from Node's shared pool) would take its
 * neighbours' bytes with it; such a view is copied once into a buffer of its own instead, and the
 * caller's view stays usable.
 */
export function transferable(view: Uint8Array): Uint8Array<ArrayBuffer> {
  return ownsWholeBuffer(view) ? view : new Uint8Array(view);
}

function ownsWholeBuffer(view: Uint8Array): view is Uint8Array<ArrayBuffer> {
  return (
    view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength
  );
}

// Structured clone keeps an Error's message but not its class or its code, so a DmfsError crosses
// as plain data and is rebuilt on the other side.
type SerializedDmfsError = { dmfsError: { code: ErrorCode; message: string; subject: string | undefined } };

export function serializeError(err: unknown): unknown {
  if (!(err instanceof DmfsError)) return err;
  const serialized: SerializedDmfsError = {
    dmfsError: { code: err.code, message: err.message, subject: err.subject },
  };
  return serialized;
}

export function deserializeError(err: unknown): unknown {
  if (typeof err !== "object" || err === null || !("dmfsError" in err)) return err;
  const { code, message, subject } = (err as SerializedDmfsError).dmfsError;
  if (!Object.hasOwn(ErrorCodes, code)) return err;
  return new DmfsError(code, message, { subject });
}
