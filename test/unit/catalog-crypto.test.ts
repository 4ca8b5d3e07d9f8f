import { createCipheriv, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkEntry } from "../../src/client/checked-entry.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import {
  type FileMeta,
  MAX_PATH_BYTES,
  openMeta,
  pathIdOf,
  pathProblem,
  sealMeta,
} from "../../src/crypto/catalog-crypto.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { DmfsError } from "../../src/errors.ts";
import { encode } from "../../src/protocol/codec.ts";

const keys = deriveKeys(randomBytes(32));
const otherKeys = deriveKeys(randomBytes(32));
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const meta = fc.record({
  path: fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).filter((p) => !p.includes("\0")),
  size: fc.maxSafeNat(),
  mtime: fc.maxSafeInteger(),
  fileKey: hex64,
  manifestId: hex64,
});
const KEY = "a".repeat(64);
const MANIFEST = "b".repeat(64);

/** Seals any value the way the first format did: msgpack under the metadata key, no version. */
function sealRaw(value: unknown): Uint8Array {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keys.meta, nonce);
  const body = Buffer.concat([cipher.update(encode(value)), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

function entryFor(m: FileMeta, sealed = sealMeta(keys, m)): CatalogEntry {
  return {
    pathId: pathIdOf(keys, m.path),
    hlc: { wall: 1, logical: 0 },
    writer: "c".repeat(32),
    deleted: false,
    fileKey: m.fileKey,
    manifestId: m.manifestId,
    size: m.size,
    meta: sealed,
  };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    return (err as DmfsError).code;
  }
}

describe("catalog entry crypto", () => {
  it("seals metadata so that only the same data key opens it, times before 1970 included", () => {
    fc.assert(
      fc.property(meta, (m) => {
        const sealed = sealMeta(keys, m);
        expect(openMeta(keys, sealed)).toEqual({ v: 2, ...m });
        expect(() => openMeta(otherKeys, sealed)).toThrow(DmfsError);
      }),
      { numRuns: 200 },
    );
  });

  it("never seals what it would not open again: anything else is a usage error", () => {
    const anyMeta = fc.record({
      path: fc.oneof(
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
          maxLength: 40,
        }),
        fc.string({ unit: "binary", minLength: 250, maxLength: 1100 }),
        fc.constantFrom("", "a\0b", "\ud800", "x".repeat(MAX_PATH_BYTES + 1)),
      ),
      size: fc.oneof(fc.maxSafeNat(), fc.integer(), fc.double()),
      mtime: fc.oneof(fc.maxSafeInteger(), fc.double(), fc.constant(-0)),
      fileKey: fc.oneof(hex64, fc.string({ maxLength: 70 })),
      manifestId: fc.oneof(hex64, fc.string({ maxLength: 70 })),
    });
    fc.assert(
      fc.property(anyMeta, (m) => {
        let sealed: Uint8Array;
        try {
          sealed = sealMeta(keys, m);
        } catch (err) {
          expect((err as DmfsError).code).toBe("E_USAGE");
          return;
        }
        // msgpack writes -0 as 0: a size or mtime of -0 comes back as 0, the same number.
        expect(openMeta(keys, sealed)).toEqual({ v: 2, ...m, size: m.size + 0, mtime: m.mtime + 0 });
      }),
      { numRuns: 1000 },
    );
  });

  it("takes paths of 1 to 1024 UTF-8 bytes without NUL or lone surrogates", () => {
    const accepts = (path: string) => pathProblem(path) === undefined;
    expect(accepts("a")).toBe(true);
    expect(accepts("é".repeat(512))).toBe(true); // 1024 bytes in 512 characters
    expect(accepts(`${"é".repeat(512)}x`)).toBe(false);
    expect(accepts("x".repeat(1024))).toBe(true);
    expect(accepts("x".repeat(1025))).toBe(false);
    expect(accepts("😀".repeat(256))).toBe(true);
    expect(accepts("")).toBe(false);
    expect(accepts("a\0b")).toBe(false);
    expect(accepts("a\udc00b")).toBe(false);
    expect(pathProblem("x".repeat(1025))).toMatch(/1025 bytes/);
  });

  it("still opens metadata in the first format, which has no version, file key or manifest id", () => {
    const v1 = { path: "docs/old.txt", size: 12, mtime: 1_700_000_000_000 };
    expect(openMeta(keys, sealRaw(v1))).toEqual({ v: 1, ...v1 });
    // ...but not a first-format record with a field it never had, nor an unknown version.
    expect(codeOf(() => openMeta(keys, sealRaw({ ...v1, extra: 1 })))).toBe("E_WRONG_KEY");
    expect(codeOf(() => openMeta(keys, sealRaw({ v: 3, ...v1, fileKey: KEY, manifestId: MANIFEST })))).toBe(
      "E_WRONG_KEY",
    );
  });

  it("uses a fresh nonce each time, so equal metadata does not look equal to a node", () => {
    const m = { path: "a/b.txt", size: 3, mtime: 1, fileKey: KEY, manifestId: MANIFEST };
    expect(Buffer.from(sealMeta(keys, m)).equals(Buffer.from(sealMeta(keys, m)))).toBe(false);
  });

  it("turns any tampered or random blob into the wrong-key error, never garbage", () => {
    const sealed = sealMeta(keys, { path: "x", size: 1, mtime: 2, fileKey: KEY, manifestId: MANIFEST });
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
          expect(codeOf(() => openMeta(keys, blob))).toBe("E_WRONG_KEY");
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

describe("a catalog entry checked against its sealed metadata", () => {
  const m = { path: "docs/a.txt", size: 10, mtime: -5, fileKey: KEY, manifestId: MANIFEST };
  const gateway = "d".repeat(32);

  it("passes when every clear field matches", () => {
    expect(checkEntry(keys, entryFor(m), gateway)).toEqual({ v: 2, ...m });
  });

  it("fails with E_CORRUPT naming the serving node when a node swapped any bound field", () => {
    const other = "e".repeat(64);
    const swaps: Partial<CatalogEntry>[] = [
      { manifestId: other },
      { fileKey: other },
      { fileKey: other, manifestId: other },
      { size: 11 },
      { pathId: pathIdOf(keys, "docs/b.txt") },
      { meta: null },
    ];
    for (const swap of swaps) {
      const entry = { ...entryFor(m), ...swap };
      try {
        checkEntry(keys, entry, gateway);
        expect.unreachable(`accepted ${JSON.stringify(Object.keys(swap))}`);
      } catch (err) {
        expect((err as DmfsError).code).toBe("E_CORRUPT");
        expect((err as DmfsError).message).toContain(gateway.slice(0, 8));
      }
    }
    // Another file's whole metadata under this path: its sealed path names another path id.
    const theirs = sealMeta(keys, { ...m, path: "docs/b.txt" });
    expect(codeOf(() => checkEntry(keys, { ...entryFor(m), meta: theirs }, gateway))).toBe("E_CORRUPT");
  });

  it("accepts a first-format entry on path and size, which is all it binds", () => {
    const v1 = { path: "old.txt", size: 4, mtime: 3 };
    const entry = entryFor({ ...v1, fileKey: KEY, manifestId: MANIFEST }, sealRaw(v1));
    expect(checkEntry(keys, entry, gateway)).toEqual({ v: 1, ...v1 });
    expect(codeOf(() => checkEntry(keys, { ...entry, size: 5 }, gateway))).toBe("E_CORRUPT");
  });
});
