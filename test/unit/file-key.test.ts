import { randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { beforeAll, describe, expect, it } from "vitest";
import { BLAKE3_BACKENDS, type Blake3, type Blake3Backend, loadBlake3 } from "../../src/crypto/blake3.ts";
import { FileKeyBuilder, fileKey } from "../../src/crypto/file-key.ts";

const kFile = randomBytes(32);
const MiB = 1024 * 1024;
const chunkHashes = (n: number) => Array.from({ length: n }, () => randomBytes(32));

const hashers = {} as Record<Blake3Backend, Blake3>;
beforeAll(async () => {
  for (const backend of BLAKE3_BACKENDS) hashers[backend] = await loadBlake3(backend);
});

describe("the file key", () => {
  it("is keyed BLAKE3 over u64be(chunkSize) followed by every chunk hash", () => {
    const hs = chunkHashes(3);
    const input = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0]), ...hs]);
    const expected = bytesToHex(blake3(input, { key: kFile }));
    for (const backend of BLAKE3_BACKENDS) expect(fileKey(hashers[backend], kFile, MiB, hs)).toBe(expected);
  });

  it.each([0, 1, 2, 500])("is the same whether built at once or while streaming %i chunks", (n) => {
    const hs = chunkHashes(n);
    const builder = new FileKeyBuilder(kFile, MiB);
    for (const h of hs) builder.add(h);
    const streamed = builder.finish();
    expect(streamed).toMatch(/^[0-9a-f]{64}$/);
    for (const backend of BLAKE3_BACKENDS) expect(fileKey(hashers[backend], kFile, MiB, hs)).toBe(streamed);
  });

  it("changes with the chunk size, the chunk order and the key", () => {
    const hs = chunkHashes(2);
    const base = fileKey(hashers.wasm, kFile, MiB, hs);
    expect(fileKey(hashers.wasm, kFile, 4 * MiB, hs)).not.toBe(base);
    expect(fileKey(hashers.wasm, kFile, MiB, [...hs].reverse())).not.toBe(base);
    expect(fileKey(hashers.wasm, randomBytes(32), MiB, hs)).not.toBe(base);
  });
});
