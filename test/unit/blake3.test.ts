import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BLAKE3_BACKENDS,
  type Blake3,
  type Blake3Backend,
  loadBlake3,
  preferredBackend,
} from "../../src/crypto/blake3.ts";
import { DmfsError } from "../../src/errors.ts";

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

describe("key derivation", () => {
  const context = utf8ToBytes(vectors.context_string);

  it("through @noble/hashes matches the official derive_key vectors for every input length", () => {
    for (const c of vectors.cases) {
      const derived = nobleBlake3(vectorInput(c.input_len), { context });
      expect(bytesToHex(derived), `input_len ${c.input_len}`).toBe(first32(c.derive_key));
    }
  });

  // hash-wasm has no derive_key mode; the native package has one, checked here though keys.ts uses noble.
  it("through the native package matches the official derive_key vectors for every input length", () => {
    for (const c of vectors.cases) {
      const derived = Blake3Hasher.deriveKey(vectors.context_string, Buffer.from(vectorInput(c.input_len)));
      expect(bytesToHex(derived), `input_len ${c.input_len}`).toBe(first32(c.derive_key));
    }
  });
});

// Input lengths where BLAKE3's tree changes shape: around its 1024-byte chunks (and the 64-byte blocks
// inside them), and well beyond 64 KiB, where SIMD backends hash many chunks in parallel.
const KiB = 1024;
const inputLength = fc.oneof(
  fc.integer({ min: 0, max: 300_000 }),
  fc
    .tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: -65, max: 65 }))
    .map(([chunks, off]) => Math.max(0, chunks * KiB + off)),
  fc.integer({ min: 64 * KiB + 1, max: 2 * 1024 * KiB }),
);

describe("the native, wasm and noble backends", () => {
  it("give identical plain and keyed digests on random inputs, at chunk boundaries and beyond 64 KiB", () => {
    fc.assert(
      fc.property(
        inputLength,
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer(),
        (length, key, seed) => {
          const input = Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
          const plain = bytesToHex(hashers.noble.hash(input));
          const keyed = bytesToHex(hashers.noble.keyedHash(key, input));
          for (const backend of ["native", "wasm"] as const) {
            expect(bytesToHex(hashers[backend].hash(input)), `${backend} length ${length}`).toBe(plain);
            expect(bytesToHex(hashers[backend].keyedHash(key, input)), `${backend} length ${length}`).toBe(
              keyed,
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("agree while the keyed hasher switches keys on every call, interleaved with unkeyed hashes", () => {
    const keys = [
      new Uint8Array(32).fill(1),
      new Uint8Array(32).fill(2),
      vectorKey,
      new Uint8Array(32).fill(2),
    ];
    const input = vectorInput(5000);
    for (let round = 0; round < 12; round++) {
      const key = keys[round % keys.length] as Uint8Array;
      for (const backend of ["native", "wasm"] as const) {
        expect(bytesToHex(hashers[backend].keyedHash(key, input))).toBe(
          bytesToHex(hashers.noble.keyedHash(key, input)),
        );
        expect(bytesToHex(hashers[backend].hash(input))).toBe(bytesToHex(hashers.noble.hash(input)));
      }
    }
  });

  it("do not see a caller change the key array after a keyed hash", () => {
    const key = new Uint8Array(32).fill(9);
    const input = vectorInput(3000);
    const before = bytesToHex(hashers.native.keyedHash(key, input));
    key.fill(10);
    expect(bytesToHex(hashers.native.keyedHash(key, input))).toBe(
      bytesToHex(hashers.noble.keyedHash(key, input)),
    );
    expect(bytesToHex(hashers.native.keyedHash(new Uint8Array(32).fill(9), input))).toBe(before);
  });

  it("hash subarray views by their own bytes only", () => {
    const backing = vectorInput(10_000);
    const view = backing.subarray(1234, 5678);
    const copy = Uint8Array.from(view);
    for (const backend of BLAKE3_BACKENDS) {
      expect(bytesToHex(hashers[backend].hash(view))).toBe(bytesToHex(nobleBlake3(copy)));
      expect(bytesToHex(hashers[backend].keyedHash(vectorKey, view))).toBe(
        bytesToHex(nobleBlake3(copy, { key: vectorKey })),
      );
    }
  });
});

describe("the choice of bulk backend (DMFS_BLAKE3)", () => {
  it("is native by default and takes any backend's name", () => {
    expect(preferredBackend(undefined)).toBe("native");
    expect(preferredBackend("")).toBe("native");
    for (const backend of BLAKE3_BACKENDS) expect(preferredBackend(backend)).toBe(backend);
  });

  it("refuses any other value with E_CONFIG naming the variable", () => {
    for (const bad of ["Native", "wasm ", "blake3", "auto"]) {
      const err = (() => {
        try {
          preferredBackend(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(DmfsError);
      expect((err as DmfsError).code).toBe("E_CONFIG");
      expect((err as DmfsError).message).toContain("DMFS_BLAKE3");
    }
  });
});

// Each case runs in a fresh process, because a thread loads the native binary and reads DMFS_BLAKE3
// once. hide-native-blake3.cjs makes the package's platform binaries unresolvable, in every thread, so
// the real native load fails as on a platform with no prebuilt binary.
const PROBE = new URL("../helpers/blake3-backend-probe.ts", import.meta.url).pathname;
const HIDE_NATIVE = new URL("../helpers/hide-native-blake3.cjs", import.meta.url).pathname;
type ProbeReport = {
  bulk: string;
  pool: string;
  nativeLoads: boolean;
  pooledIdsMatchNoble: boolean;
  inlineIdMatchesNoble: boolean;
};

async function probe(env: Record<string, string>): Promise<ProbeReport> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", PROBE], {
    env: { ...process.env, DMFS_BLAKE3: "", ...env },
  });
  return JSON.parse(stdout) as ProbeReport;
}

describe("a process's bulk hashing", () => {
  it("runs native when its binary loads", async () => {
    expect(await probe({})).toEqual({
      bulk: "native",
      pool: "native",
      nativeLoads: true,
      pooledIdsMatchNoble: true,
      inlineIdMatchesNoble: true,
    });
  });

  it("falls back to wasm, in the pool's threads too, when the native binary does not load", async () => {
    expect(
      await probe({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${HIDE_NATIVE}` }),
    ).toEqual({
      bulk: "wasm",
      pool: "wasm",
      nativeLoads: false,
      pooledIdsMatchNoble: true,
      inlineIdMatchesNoble: true,
    });
  });

  it("runs wasm when DMFS_BLAKE3=wasm, though native would load", async () => {
    expect(await probe({ DMFS_BLAKE3: "wasm" })).toMatchObject({
      bulk: "wasm",
      pool: "wasm",
      nativeLoads: true,
    });
  });
});
