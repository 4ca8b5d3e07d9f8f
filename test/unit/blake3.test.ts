import { readFileSync } from "node:fs";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BLAKE3_BACKENDS, type Blake3, type Blake3Backend, loadBlake3 } from "../../src/crypto/blake3.ts";

type VectorFile = {
  key: string;
  context_string: string;
  cases: { input_len: number; hash: string; keyed_hash: string; derive_key: string }[];
};
const vectors = JSON.parse(
  readFileSync(new URL("../fixtures/blake3_test_vectors.json", import.meta.url), "utf8"),
) as VectorFile;
const vectorKey = utf8ToBytes(vectors.key);

// The official vectors hash the repeating byte sequence 0, 1, ..., 250 and give 131 bytes of extended
// output; a 32-byte digest is its first 64 hex characters.
function vectorInput(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i % 251);
}
const first32 = (extended: string) => extended.slice(0, 64);

const hashers = {} as Record<Blake3Backend, Blake3>;
beforeAll(async () => {
  for (const backend of BLAKE3_BACKENDS) hashers[backend] = await loadBlake3(backend);
});

describe.each(BLAKE3_BACKENDS)("the %s backend", (backend) => {
  it("matches the official hash vectors for every input length", () => {
    for (const c of vectors.cases) {
      expect(bytesToHex(hashers[backend].hash(vectorInput(c.input_len))), `input_len ${c.input_len}`).toBe(
        first32(c.hash),
      );
    }
  });

  it("matches the official keyed_hash vectors for every input length", () => {
    for (const c of vectors.cases) {
      const digest = hashers[backend].keyedHash(vectorKey, vectorInput(c.input_len));
      expect(bytesToHex(digest), `input_len ${c.input_len}`).toBe(first32(c.keyed_hash));
    }
  });

  it("refuses a key that is not 32 bytes", () => {
    expect(() => hashers[backend].keyedHash(new Uint8Array(16), new Uint8Array(1))).toThrow();
    expect(() => hashers[backend].keyedHash(new Uint8Array(33), new Uint8Array(1))).toThrow();
  });
});

describe("key derivation through @noble/hashes", () => {
  it("matches the official derive_key vectors for every input length", () => {
    const context = utf8ToBytes(vectors.context_string);
    for (const c of vectors.cases) {
      const derived = nobleBlake3(vectorInput(c.input_len), { context });
      expect(bytesToHex(derived), `input_len ${c.input_len}`).toBe(first32(c.derive_key));
    }
  });
});

describe("the wasm and noble backends", () => {
  it("give identical plain and keyed digests on random inputs up to 300,000 bytes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer(),
        (length, key, seed) => {
          const input = Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
          expect(bytesToHex(hashers.wasm.hash(input))).toBe(bytesToHex(hashers.noble.hash(input)));
          expect(bytesToHex(hashers.wasm.keyedHash(key, input))).toBe(
            bytesToHex(hashers.noble.keyedHash(key, input)),
          );
        },
      ),
      { numRuns: 20 },
    );
  });

  it("agree while wasm switches keys on every call, interleaved with unkeyed hashes", () => {
    const keys = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), vectorKey];
    const input = vectorInput(5000);
    for (let round = 0; round < 9; round++) {
      const key = keys[round % keys.length] as Uint8Array;
      expect(bytesToHex(hashers.wasm.keyedHash(key, input))).toBe(
        bytesToHex(hashers.noble.keyedHash(key, input)),
      );
      expect(bytesToHex(hashers.wasm.hash(input))).toBe(bytesToHex(hashers.noble.hash(input)));
    }
  });

  it("hash subarray views by their own bytes only", () => {
    const backing = vectorInput(10_000);
    const view = backing.subarray(1234, 5678);
    const copy = Uint8Array.from(view);
    for (const backend of BLAKE3_BACKENDS) {
      expect(bytesToHex(hashers[backend].hash(view))).toBe(bytesToHex(nobleBlake3(copy)));
    }
  });
});
