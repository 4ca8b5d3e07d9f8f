import { randomBytes } from "node:crypto";
import { bytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type Blake3, loadBlake3 } from "../../src/crypto/blake3.ts";
import {
  CHUNK_OVERHEAD_BYTES,
  type ChunkKeys,
  chunkIdOf,
  openChunk,
  sealChunk,
} from "../../src/crypto/chunk-format.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { DmfsError, type ErrorCode } from "../../src/errors.ts";

let native: Blake3;
let wasm: Blake3;
let noble: Blake3;
beforeAll(async () => {
  native = await loadBlake3("native");
  wasm = await loadBlake3("wasm");
  noble = await loadBlake3("noble");
});

const keys: ChunkKeys = deriveKeys(new Uint8Array(32).fill(42));
const otherKeys: ChunkKeys = deriveKeys(new Uint8Array(32).fill(43));

function openError(run: () => unknown): DmfsError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    return err as DmfsError;
  }
  throw new Error("expected openChunk to throw");
}

function expectOpenFails(code: ErrorCode, stored: Uint8Array, chunkId: string, withKeys = keys): DmfsError {
  const err = openError(() => openChunk(wasm, withKeys, stored, chunkId));
  expect(err.code).toBe(code);
  return err;
}

describe("a sealed chunk", () => {
  it("is nonce || ciphertext || tag, the nonce the keyed hash's first 12 bytes, named by its BLAKE3", () => {
    const plaintext = randomBytes(1000);
    const { stored, chunkId, h } = sealChunk(wasm, keys, plaintext);
    expect(stored).toHaveLength(plaintext.length + CHUNK_OVERHEAD_BYTES);
    expect(bytesToHex(h)).toBe(bytesToHex(noble.keyedHash(keys.chunk, plaintext)));
    expect(bytesToHex(stored.subarray(0, 12))).toBe(bytesToHex(h.subarray(0, 12)));
    expect(chunkId).toMatch(/^[0-9a-f]{64}$/);
    expect(chunkId).toBe(bytesToHex(noble.hash(stored)));
    expect(Buffer.from(stored.subarray(12, 1012)).equals(plaintext)).toBe(false);
  });

  it("opens back to its plaintext, for any size and any backend", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.constantFrom("native", "wasm", "noble"),
        (plaintext, backend) => {
          const hasher = { native, wasm, noble }[backend];
          const { stored, chunkId, h } = sealChunk(hasher, keys, plaintext);
          const opened = openChunk(hasher, keys, stored, chunkId);
          expect(Buffer.from(opened.plaintext).equals(Buffer.from(plaintext))).toBe(true);
          expect(Buffer.from(opened.h).equals(Buffer.from(h))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("is the same bytes every time for the same plaintext and key, whichever backend seals it", () => {
    const plaintext = randomBytes(70_000);
    const first = sealChunk(wasm, keys, plaintext);
    const again = sealChunk(wasm, keys, Buffer.from(plaintext));
    const byNoble = sealChunk(noble, keys, plaintext);
    const byNative = sealChunk(native, keys, plaintext);
    expect(again.chunkId).toBe(first.chunkId);
    expect(byNoble.chunkId).toBe(first.chunkId);
    expect(byNative.chunkId).toBe(first.chunkId);
    expect(Buffer.from(again.stored).equals(Buffer.from(first.stored))).toBe(true);
  });

  it("differs for a different data key or different plaintext", () => {
    const plaintext = randomBytes(100);
    const base = sealChunk(wasm, keys, plaintext);
    expect(sealChunk(wasm, otherKeys, plaintext).chunkId).not.toBe(base.chunkId);
    plaintext[0] = (plaintext[0] as number) ^ 1;
    const changed = sealChunk(wasm, keys, plaintext);
    expect(changed.chunkId).not.toBe(base.chunkId);
    expect(bytesToHex(changed.stored.subarray(0, 12))).not.toBe(bytesToHex(base.stored.subarray(0, 12)));
  });

  it("is written into a given buffer of exactly its length, and into a new one otherwise", () => {
    const plaintext = randomBytes(500);
    const expected = sealChunk(wasm, keys, plaintext);
    const into = new Uint8Array(528).fill(0xee);
    const sealed = sealChunk(wasm, keys, plaintext, into);
    expect(sealed.stored).toBe(into);
    expect(Buffer.from(into).equals(Buffer.from(expected.stored))).toBe(true);
    const wrongLength = new Uint8Array(600);
    const other = sealChunk(wasm, keys, plaintext, wrongLength);
    expect(other.stored).not.toBe(wrongLength);
    expect(other.chunkId).toBe(expected.chunkId);
  });

  it("of an empty plaintext is 28 bytes and opens to nothing", () => {
    const { stored, chunkId } = sealChunk(wasm, keys, new Uint8Array(0));
    expect(stored).toHaveLength(CHUNK_OVERHEAD_BYTES);
    expect(openChunk(wasm, keys, stored, chunkId).plaintext).toHaveLength(0);
  });
});

describe("opening a chunk that is not what it should be", () => {
  it("reports a flipped bit anywhere - nonce, ciphertext or tag - as a corrupt chunk", () => {
    const { stored, chunkId } = sealChunk(wasm, keys, randomBytes(300));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: stored.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        (at, bit) => {
          const tampered = Uint8Array.from(stored);
          tampered[at] = (tampered[at] as number) ^ (1 << bit);
          const err = expectOpenFails("E_CHUNK_CORRUPT", tampered, chunkId);
          expect(err.message).toBe(`chunk ${chunkId} is corrupt: its bytes do not hash to its id`);
          expect(err.subject).toBe(chunkId);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ["nonce", 3],
    ["ciphertext", 12 + 50],
    ["tag", -5],
  ])("reports a tampered %s whose id was recomputed as a wrong key, never as garbage", (_, offset) => {
    const { stored } = sealChunk(wasm, keys, randomBytes(300));
    const tampered = Uint8Array.from(stored);
    const at = offset < 0 ? tampered.length + offset : offset;
    tampered[at] = (tampered[at] as number) ^ 0x80;
    const err = expectOpenFails("E_WRONG_KEY", tampered, chunkIdOf(wasm, tampered));
    expect(err.message).toBe("wrong data key or corrupted data");
  });

  it("reports the wrong data key as a wrong key", () => {
    const { stored, chunkId } = sealChunk(wasm, keys, randomBytes(4096));
    expectOpenFails("E_WRONG_KEY", stored, chunkId, otherKeys);
  });

  it("reports a chunk sealed with another chunk-hash key as a wrong key even though it decrypts", () => {
    const { stored, chunkId } = sealChunk(wasm, { chunk: otherKeys.chunk, enc: keys.enc }, randomBytes(64));
    expectOpenFails("E_WRONG_KEY", stored, chunkId);
  });

  it.each([0, 1, 27])("reports a %i-byte blob as corrupt even when the id matches its bytes", (length) => {
    const blob = randomBytes(length);
    expectOpenFails("E_CHUNK_CORRUPT", blob, chunkIdOf(wasm, blob));
  });

  it("reports a blob under someone else's id as corrupt", () => {
    const a = sealChunk(wasm, keys, randomBytes(10));
    const b = sealChunk(wasm, keys, randomBytes(10));
    expectOpenFails("E_CHUNK_CORRUPT", a.stored, b.chunkId);
  });
});
