import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeManifest, encodeManifest, type Manifest } from "../../src/client/manifest.ts";
import { CHUNK_OVERHEAD_BYTES } from "../../src/crypto/chunk-format.ts";
import { DmfsError } from "../../src/errors.ts";
import { encode } from "../../src/protocol/codec.ts";

const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });

/** A consistent manifest: every chunk full but the last. */
const manifest: fc.Arbitrary<Manifest> = fc
  .record({ chunkSize: fc.integer({ min: 1024, max: 1 << 20 }), chunks: fc.integer({ min: 0, max: 40 }) })
  .chain(({ chunkSize, chunks }) =>
    fc
      .integer({ min: Math.max(0, (chunks - 1) * chunkSize + 1), max: chunks * chunkSize })
      .map((size) => ({ chunkSize, size })),
  )
  .chain(({ chunkSize, size }) => {
    const n = Math.ceil(size / chunkSize);
    return fc.array(hex64, { minLength: n, maxLength: n }).map((ids) => ({
      v: 1 as const,
      chunkSize,
      size,
      chunks: ids.map((id, i): [string, number] => [
        id,
        (i === n - 1 ? size - chunkSize * (n - 1) : chunkSize) + CHUNK_OVERHEAD_BYTES,
      ]),
    }));
  });

describe("manifest", () => {
  it("round-trips every consistent manifest", () => {
    fc.assert(
      fc.property(manifest, (m) => {
        expect(decodeManifest(encodeManifest(m), "x")).toEqual(m);
      }),
      {
        numRuns: 200,
      },
    );
  });

  it("refuses a manifest whose chunk lengths do not add up to its size", () => {
    const m: Manifest = {
      v: 1,
      chunkSize: 10,
      size: 15,
      chunks: [
        ["a".repeat(64), 38],
        ["b".repeat(64), 38],
      ],
    };
    expect(() => decodeManifest(encode(m), "m1")).toThrow(/manifest m1 is invalid/);
  });

  it("gives only E_CHUNK_CORRUPT for random bytes, truncations and well-formed msgpack of the wrong shape", () => {
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      manifest.chain((m) => {
        const bytes = encodeManifest(m);
        return fc
          .integer({ min: 0, max: Math.max(0, bytes.length - 1) })
          .map((cut) => bytes.subarray(0, cut));
      }),
      fc.anything().map((value) => {
        try {
          return encode(value);
        } catch {
          return new Uint8Array([0xc1]);
        }
      }),
    );
    fc.assert(
      fc.property(inputs, (bytes) => {
        try {
          decodeManifest(bytes, "fuzz");
        } catch (err) {
          expect(err).toBeInstanceOf(DmfsError);
          expect((err as DmfsError).code).toBe("E_CHUNK_CORRUPT");
        }
      }),
      { numRuns: 1000 },
    );
  });
});
