import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBlake3 } from "../../src/crypto/blake3.ts";
import { type ChunkKeys, chunkIdOf, sealChunk } from "../../src/crypto/chunk-format.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { DmfsError, type ErrorCode } from "../../src/errors.ts";
import {
  CryptoPool,
  INLINE_HASH_MAX_BYTES,
  NATIVE_INLINE_HASH_MAX_BYTES,
} from "../../src/workers/crypto-pool.ts";

const chunkIdFromNoble = (bytes: Uint8Array) => blake3(bytes);

const CHUNK_SIZE = 1024 * 1024;
const keys: ChunkKeys = deriveKeys(new Uint8Array(32).fill(1));
const otherKeys: ChunkKeys = deriveKeys(new Uint8Array(32).fill(2));

let pool: CryptoPool;
beforeAll(() => {
  pool = new CryptoPool({ threads: 2 });
});
afterAll(async () => {
  await pool.destroy();
});

async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<DmfsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DmfsError);
  expect((err as DmfsError).code).toBe(code);
  return err as DmfsError;
}

describe("the crypto pool", () => {
  it.each([0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1])(
    "seals a %i-byte chunk to the reference format and opens it back",
    async (size) => {
      const plaintext = randomBytes(size);
      const reference = sealChunk(await loadBlake3("noble"), keys, plaintext);
      const sealed = await pool.seal(keys, Buffer.from(plaintext));
      expect(sealed.chunkId).toBe(reference.chunkId);
      expect(bytesToHex(sealed.h)).toBe(bytesToHex(reference.h));
      expect(Buffer.from(sealed.stored).equals(Buffer.from(reference.stored))).toBe(true);
      const opened = await pool.open(keys, sealed.stored, sealed.chunkId);
      expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
      // The recomputed plaintext hash, which a reader feeds to the file key.
      expect(bytesToHex(opened.h)).toBe(bytesToHex(reference.h));
    },
  );

  it("hands the plaintext back and seals into a spare buffer of the right length", async () => {
    const plaintext = randomBytes(CHUNK_SIZE);
    const reference = sealChunk(await loadBlake3("noble"), keys, plaintext);
    const spare = new Uint8Array(CHUNK_SIZE + 28).fill(9);
    const sent = Buffer.from(plaintext);
    const sealed = await pool.seal(keys, sent, spare);
    expect(spare.byteLength).toBe(0); // moved to the worker
    expect(Buffer.from(sealed.plaintext).equals(plaintext)).toBe(true);
    expect(Buffer.from(sealed.stored).equals(Buffer.from(reference.stored))).toBe(true);
    // A spare of another length is not used: the result is still right.
    const small = randomBytes(100);
    const again = await pool.seal(keys, Buffer.from(small), new Uint8Array(CHUNK_SIZE + 28));
    expect(again.stored).toHaveLength(128);
    expect(Buffer.from((await pool.open(keys, again.stored, again.chunkId)).plaintext).equals(small)).toBe(
      true,
    );
  });

  it("opens into a spare buffer of the plaintext's length, and ignores one of another length", async () => {
    const plaintext = randomBytes(CHUNK_SIZE);
    const sealed = await pool.seal(keys, Buffer.from(plaintext));
    const spare = new Uint8Array(CHUNK_SIZE).fill(9);
    const opened = await pool.open(keys, sealed.stored, sealed.chunkId, { into: spare });
    expect(spare.byteLength).toBe(0); // moved to the worker, and back as the plaintext
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    const small = randomBytes(100);
    const again = await pool.seal(keys, Buffer.from(small));
    const ignored = await pool.open(keys, again.stored, again.chunkId, { into: new Uint8Array(CHUNK_SIZE) });
    expect(Buffer.from(ignored.plaintext).equals(small)).toBe(true);
  });

  it("moves the caller's plaintext into the worker instead of copying it", async () => {
    const plaintext = new Uint8Array(CHUNK_SIZE).fill(7);
    const sealed = await pool.seal(keys, plaintext);
    expect(plaintext.byteLength).toBe(0);
    expect(plaintext.buffer.byteLength).toBe(0);
    const opened = await pool.open(keys, sealed.stored, sealed.chunkId);
    expect(sealed.stored.byteLength).toBe(0);
    expect(opened.plaintext).toHaveLength(CHUNK_SIZE);
  });

  it("copies a view of a larger buffer once, leaving the caller's buffer intact", async () => {
    const frame = randomBytes(3 * 1024);
    const original = Buffer.from(frame);
    const body = frame.subarray(100, 2100);
    const sealed = await pool.seal(keys, body);
    expect(frame.byteLength).toBe(3 * 1024);
    expect(frame.equals(original)).toBe(true);
    const opened = await pool.open(keys, sealed.stored, sealed.chunkId);
    expect(Buffer.from(opened.plaintext).equals(original.subarray(100, 2100))).toBe(true);
  });

  it("gives identical stored bytes for the same plaintext and key, so chunks deduplicate", async () => {
    const plaintext = randomBytes(100_000);
    const [a, b] = await Promise.all([
      pool.seal(keys, Buffer.from(plaintext)),
      pool.seal(keys, Buffer.from(plaintext)),
    ]);
    expect(a.chunkId).toBe(b.chunkId);
    expect(Buffer.from(a.stored).equals(Buffer.from(b.stored))).toBe(true);
  });

  it("reports a flipped byte anywhere in a stored chunk as corrupt, as a DmfsError", async () => {
    const sealed = await pool.seal(keys, randomBytes(5000));
    const stored = Buffer.from(sealed.stored);
    for (const at of [0, 11, 12, 2500, stored.length - 17, stored.length - 1]) {
      const tampered = Buffer.from(stored);
      tampered[at] = (tampered[at] as number) ^ 0x01;
      const err = await rejection(pool.open(keys, tampered, sealed.chunkId), "E_CHUNK_CORRUPT");
      expect(err.message).toBe(`chunk ${sealed.chunkId} is corrupt: its bytes do not hash to its id`);
      expect(err.subject).toBe(sealed.chunkId);
    }
  });

  it("reports a tampered chunk whose id was recomputed as a wrong key", async () => {
    const sealed = await pool.seal(keys, randomBytes(5000));
    const tampered = Buffer.from(sealed.stored);
    tampered[100] = (tampered[100] as number) ^ 0x01;
    const id = chunkIdOf(await loadBlake3("wasm"), tampered);
    const err = await rejection(pool.open(keys, tampered, id), "E_WRONG_KEY");
    expect(err.message).toBe("wrong data key or corrupted data");
  });

  it("reports the wrong data key as a wrong key", async () => {
    const sealed = await pool.seal(keys, randomBytes(CHUNK_SIZE));
    await rejection(pool.open(otherKeys, sealed.stored, sealed.chunkId), "E_WRONG_KEY");
  });

  it("hashes bytes in a thread to their BLAKE3 id and hands the same bytes back", async () => {
    const bytes = randomBytes(NATIVE_INLINE_HASH_MAX_BYTES + 1);
    const copy = Buffer.from(bytes);
    const { id, bytes: back } = await pool.hash(bytes);
    expect(bytes.byteLength).toBe(0);
    expect(id).toBe(bytesToHex((await loadBlake3("noble")).hash(copy)));
    expect(Buffer.from(back).equals(copy)).toBe(true);
  });

  it("keeps many chunks in flight at once across its threads", async () => {
    const plaintexts = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
    const sealed = await Promise.all(plaintexts.map((p) => pool.seal(keys, Buffer.from(p))));
    const opened = await Promise.all(sealed.map((s) => pool.open(keys, s.stored, s.chunkId)));
    opened.forEach((p, i) => {
      expect(Buffer.from(p.plaintext).equals(plaintexts[i] as Buffer)).toBe(true);
    });
  });

  it("reports its thread count, one per core by default", async () => {
    expect(pool.threads).toBe(2);
    const byDefault = new CryptoPool();
    try {
      expect(byDefault.threads).toBe(availableParallelism());
    } finally {
      await byDefault.destroy();
    }
  });

  it.each(["wasm", "noble"] as const)("gives the same chunks with the %s backend", async (backend) => {
    const other = new CryptoPool({ threads: 1, backend });
    try {
      expect(await other.backend()).toBe(backend);
      const plaintext = randomBytes(50_000);
      const [viaOther, viaDefault] = await Promise.all([
        other.seal(keys, Buffer.from(plaintext)),
        pool.seal(keys, Buffer.from(plaintext)),
      ]);
      expect(viaOther.chunkId).toBe(viaDefault.chunkId);
      const opened = await other.open(keys, viaOther.stored, viaOther.chunkId);
      expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    } finally {
      await other.destroy();
    }
  });

  it("hashes with the native backend by default, where its binary loads", async () => {
    expect(await pool.backend()).toBe("native");
  });

  it("moves a view's whole buffer without copying when the caller owns it, keeping the view's place", async () => {
    const size = NATIVE_INLINE_HASH_MAX_BYTES + 1;
    const body = new Uint8Array(size + 64);
    body.set(randomBytes(size), 64);
    const view = body.subarray(64);
    const expected = bytesToHex(chunkIdFromNoble(view));
    const { id, bytes } = await pool.hash(view, { ownsBuffer: true });
    expect(id).toBe(expected);
    expect(body.byteLength).toBe(0); // the caller's buffer went to the worker, not a copy of it
    expect(bytes.byteOffset).toBe(64);
    expect(bytes.byteLength).toBe(size);
  });

  it.each([0, 1, 4096, INLINE_HASH_MAX_BYTES, CHUNK_SIZE + 28, NATIVE_INLINE_HASH_MAX_BYTES])(
    "hashes a %i-byte blob on the calling thread with the native backend, leaving the caller's view as it is",
    async (size) => {
      const body = new Uint8Array(size + 8);
      body.set(randomBytes(size), 8);
      const view = body.subarray(8);
      const { id, bytes } = await pool.hash(view, { ownsBuffer: true });
      expect(id).toBe(bytesToHex(chunkIdFromNoble(view)));
      expect(bytes).toBe(view);
      expect(body.byteLength).toBe(size + 8);
    },
  );

  it("with the wasm backend, hashes only up to INLINE_HASH_MAX_BYTES inline and larger blobs in a thread", async () => {
    const wasm = new CryptoPool({ threads: 1, backend: "wasm" });
    try {
      for (const [size, inline] of [
        [INLINE_HASH_MAX_BYTES, true],
        [INLINE_HASH_MAX_BYTES + 1, false],
      ] as const) {
        const body = randomBytes(size);
        const expected = bytesToHex(chunkIdFromNoble(body));
        const view = new Uint8Array(body.buffer, body.byteOffset, size);
        const owned = new Uint8Array(size);
        owned.set(view);
        const { id } = await wasm.hash(owned, { ownsBuffer: true });
        expect(id).toBe(expected);
        expect(owned.byteLength).toBe(inline ? size : 0); // a blob sent to a thread is detached here
      }
    } finally {
      await wasm.destroy();
    }
  });
});
