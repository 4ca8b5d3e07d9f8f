import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openMeta, pathIdOf, sealMeta } from "../../src/crypto/catalog-crypto.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { DmfsError } from "../../src/errors.ts";

const keys = deriveKeys(randomBytes(32));
const otherKeys = deriveKeys(randomBytes(32));
const meta = fc.record({
  path: fc.string({ minLength: 1, maxLength: 200 }),
  size: fc.maxSafeNat(),
  mtime: fc.integer({ min: 0, max: 2 ** 45 }),
});

describe("catalog entry crypto", () => {
  it("seals metadata so that only the same data key opens it", () => {
    fc.assert(
      fc.property(meta, (m) => {
        const sealed = sealMeta(keys, m);
        expect(openMeta(keys, sealed)).toEqual(m);
        expect(() => openMeta(otherKeys, sealed)).toThrow(DmfsError);
      }),
      { numRuns: 100 },
    );
  });

  it("uses a fresh nonce each time, so equal metadata does not look equal to a node", () => {
    const m = { path: "a/b.txt", size: 3, mtime: 1 };
    expect(Buffer.from(sealMeta(keys, m)).equals(Buffer.from(sealMeta(keys, m)))).toBe(false);
  });

  it("turns any tampered or random blob into the wrong-key error, never garbage", () => {
    const sealed = sealMeta(keys, { path: "x", size: 1, mtime: 2 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.nat(sealed.length - 1).map((i) => {
            const copy = Buffer.from(sealed);
            copy[i] = (copy[i] as number) ^ 1;
            return copy;
          }),
        ),
        (blob) => {
          try {
            openMeta(keys, blob);
            expect.unreachable("tampered metadata opened");
          } catch (err) {
            expect((err as DmfsError).code).toBe("E_WRONG_KEY");
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("derives path ids from the path and the data key only", () => {
    expect(pathIdOf(keys, "docs/a.txt")).toBe(pathIdOf(keys, "docs/a.txt"));
    expect(pathIdOf(keys, "docs/a.txt")).not.toBe(pathIdOf(otherKeys, "docs/a.txt"));
    expect(pathIdOf(keys, "docs/a.txt")).toMatch(/^[0-9a-f]{64}$/);
  });
});
