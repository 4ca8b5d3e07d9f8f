// The S3 gateway's decoders, each against generated input: ranges, continuation tokens, the listing
// rules, and the DeleteObjects XML body.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksumChecked } from "../../src/s3/checksum.ts";
import { evaluateConditions } from "../../src/s3/conditions.ts";
import { decodeContinuationToken, encodeContinuationToken } from "../../src/s3/continuation-token.ts";
import { compareKeys, listPage } from "../../src/s3/listing.ts";
import { parseRange } from "../../src/s3/range.ts";
import { S3Error } from "../../src/s3/s3-error.ts";
import { parseDeleteRequest, xmlDocument } from "../../src/s3/xml.ts";

function s3Code(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    return (err as S3Error).code;
  }
}

describe("Range header", () => {
  it("gives the slice S3 gives for each form", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=95-200", 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange(undefined, 100)).toBeUndefined();
    expect(parseRange("bytes=0-1,5-6", 100)).toBeUndefined();
    expect(parseRange("items=0-1", 100)).toBeUndefined();
    expect(parseRange("bytes=9-3", 100)).toBeUndefined();
    expect(s3Code(() => parseRange("bytes=100-", 100))).toBe("InvalidRange");
    expect(s3Code(() => parseRange("bytes=0-0", 0))).toBe("InvalidRange");
    expect(s3Code(() => parseRange("bytes=-0", 100))).toBe("InvalidRange");
  });

  it("any header: whole object, a slice inside the object, or InvalidRange", () => {
    const header = fc.oneof(
      fc.string(),
      fc
        .tuple(fc.option(fc.nat(1e6), { nil: undefined }), fc.option(fc.nat(1e6), { nil: undefined }))
        .map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
    );
    fc.assert(
      fc.property(header, fc.nat(1e6), (h, size) => {
        let range: ReturnType<typeof parseRange>;
        try {
          range = parseRange(h, size);
        } catch (err) {
          expect((err as S3Error).code).toBe("InvalidRange");
          return;
        }
        if (range) {
          expect(range.start).toBeGreaterThanOrEqual(0);
          expect(range.start).toBeLessThanOrEqual(range.end);
          expect(range.end).toBeLessThan(size);
        }
      }),
    );
  });
});

describe("continuation tokens", () => {
  it("round-trip any position", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.boolean(), (after, prefix) => {
        expect(decodeContinuationToken(encodeContinuationToken({ after, prefix }))).toEqual({
          after,
          prefix,
        });
      }),
    );
  });

  it("anything else is InvalidArgument, never another failure", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.string().map((s) => Buffer.from(s).toString("base64url")),
        ),
        (token) => {
          const code = s3Code(() => decodeContinuationToken(token));
          expect(code === undefined || code === "InvalidArgument").toBe(true);
        },
      ),
    );
    expect(s3Code(() => decodeContinuationToken("!!"))).toBe("InvalidArgument");
  });
});

/** The listing as S3 defines it, written the obvious way: every key or common prefix in order. */
function modelList(keys: string[], prefix: string, delimiter: string): { entry: string; prefix: boolean }[] {
  const out: { entry: string; prefix: boolean }[] = [];
  for (const key of [...keys].sort(compareKeys)) {
    if (!key.startsWith(prefix)) continue;
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length);
    if (cut === -1) out.push({ entry: key, prefix: false });
    else {
      const common = key.slice(0, cut + delimiter.length);
      if (!out.some((e) => e.prefix && e.entry === common)) out.push({ entry: common, prefix: true });
    }
  }
  return out;
}

describe("listing pages", () => {
  it("paging through with continuation gives exactly the full listing, in order, never more than max-keys a page", () => {
    const keyChar = fc.constantFrom("a", "b", "/", "-", "é", "😀", "z");
    const key = fc.array(keyChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 40 }),
        fc.array(keyChar, { maxLength: 2 }).map((cs) => cs.join("")),
        fc.constantFrom("", "/", "-", "a/"),
        fc.integer({ min: 1, max: 7 }),
        (keys, prefix, delimiter, maxKeys) => {
          const sorted = keys.map((k) => ({ key: k })).sort((a, b) => compareKeys(a.key, b.key));
          const got: { entry: string; prefix: boolean }[] = [];
          let after: ReturnType<typeof listPage>["next"];
          for (let pages = 0; pages <= keys.length + 1; pages++) {
            const page = listPage(sorted, { prefix, delimiter, after, maxKeys });
            const n = page.objects.length + page.commonPrefixes.length;
            expect(n).toBeLessThanOrEqual(maxKeys);
            // A page lists its objects and prefixes in one order; merge them back by key.
            const entries = [
              ...page.objects.map((o) => ({ entry: o.key, prefix: false })),
              ...page.commonPrefixes.map((p) => ({ entry: p, prefix: true })),
            ].sort((a, b) => compareKeys(a.entry, b.entry));
            got.push(...entries);
            if (!page.isTruncated) break;
            expect(n).toBe(maxKeys);
            after = page.next;
          }
          expect(got).toEqual(modelList(keys, prefix, delimiter));
        },
      ),
    );
  });

  it("orders keys by UTF-8 bytes, as S3 does", () => {
    // U+FF61 sorts before U+1F600 in UTF-16 code units' reverse: bytes EF.. < F0..
    expect(compareKeys("\uff61", "😀")).toBeLessThan(0);
    expect("\uff61" < "😀").toBe(false);
  });

  it("max-keys 0 lists nothing and is not truncated", () => {
    expect(
      listPage([{ key: "a" }], { prefix: "", delimiter: "", after: undefined, maxKeys: 0 }),
    ).toMatchObject({
      objects: [],
      isTruncated: false,
    });
  });
});

/** Characters XML 1.0 carries as text (keys beyond these need encoding-type=url, which DeleteObjects lacks). */
function xmlSafe(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return (code >= 0x20 || code === 0x09 || code === 0x0a) && code !== 0xfffe && code !== 0xffff;
}

describe("DeleteObjects body", () => {
  it("round-trips any set of keys through the XML the SDKs send", () => {
    const key = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 30 })
      .filter((k) => [...k].every(xmlSafe));
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 20 }), fc.boolean(), (keys, quiet) => {
        const xml = xmlDocument("Delete", { Object: keys.map((k) => ({ Key: k })), Quiet: quiet });
        expect(parseDeleteRequest(xml)).toEqual({ keys, quiet });
      }),
    );
  });

  it("anything that is not such a document is MalformedXML", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const code = s3Code(() => parseDeleteRequest(text));
        expect(code).toBe("MalformedXML");
      }),
    );
    for (const bad of [
      "<Delete></Delete>",
      "<Delete><Object><Key></Key></Object></Delete>",
      "<Other/>",
      "<Delete><Object><Key>a</Key></Object>",
    ]) {
      expect(s3Code(() => parseDeleteRequest(bad))).toBe("MalformedXML");
    }
  });
});

describe("additional checksums", () => {
  async function drain(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const p of source) out.push(Buffer.from(p));
    return Buffer.concat(out);
  }
  async function* pieces(data: Uint8Array, size: number) {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
  }
  const crc32Of = (data: Uint8Array) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc32(data) >>> 0);
    return b.toString("base64");
  };

  it("passes any body whose CRC32, SHA-1 or SHA-256 matches, in a header or a trailer, and refuses any other with BadDigest", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom("crc32", "sha1", "sha256"),
        fc.boolean(),
        async (data, size, algorithm, asTrailer) => {
          const right =
            algorithm === "crc32" ? crc32Of(data) : createHash(algorithm).update(data).digest("base64");
          const wrong =
            algorithm === "crc32"
              ? crc32Of(Buffer.concat([data, Buffer.from([1])]))
              : createHash(algorithm).update("x").update(data).digest("base64");
          const name = `x-amz-checksum-${algorithm}`;
          const run = (value: string) => {
            const trailers = new Map<string, string>();
            const headers = asTrailer ? { "x-amz-trailer": name } : { [name]: value };
            async function* thenTrailer() {
              yield* pieces(data, size);
              if (asTrailer) trailers.set(name, value);
            }
            return drain(checksumChecked(thenTrailer(), headers, trailers));
          };
          expect((await run(right)).equals(Buffer.from(data))).toBe(true);
          await expect(run(wrong)).rejects.toMatchObject({ code: "BadDigest" });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a body with no checksum, or one this gateway cannot compute, passes as it is", async () => {
    const data = Buffer.from("abc");
    expect((await drain(checksumChecked(pieces(data, 2), {}, new Map()))).equals(data)).toBe(true);
    expect(
      (
        await drain(checksumChecked(pieces(data, 2), { "x-amz-checksum-crc32c": "AAAAAA==" }, new Map()))
      ).equals(data),
    ).toBe(true);
  });
});

describe("conditional requests", () => {
  const object = { etag: "abc", lastModified: new Date("2026-01-02T03:04:05.678Z") };
  const at = (iso: string) => new Date(iso).toUTCString();
  it("follow RFC 9110's order, as S3 does", () => {
    expect(evaluateConditions({}, object)).toBe("proceed");
    expect(evaluateConditions({ "if-match": '"abc"' }, object)).toBe("proceed");
    expect(evaluateConditions({ "if-match": '"x", W/"abc"' }, object)).toBe("proceed");
    expect(evaluateConditions({ "if-match": "*" }, object)).toBe("proceed");
    expect(evaluateConditions({ "if-match": '"x"' }, object)).toBe("precondition-failed");
    expect(evaluateConditions({ "if-none-match": '"abc"' }, object)).toBe("not-modified");
    expect(evaluateConditions({ "if-none-match": '"x"' }, object)).toBe("proceed");
    // Same second as the object: not modified since; one second before: modified.
    expect(evaluateConditions({ "if-modified-since": at("2026-01-02T03:04:05Z") }, object)).toBe(
      "not-modified",
    );
    expect(evaluateConditions({ "if-modified-since": at("2026-01-02T03:04:04Z") }, object)).toBe("proceed");
    expect(evaluateConditions({ "if-unmodified-since": at("2026-01-02T03:04:04Z") }, object)).toBe(
      "precondition-failed",
    );
    expect(evaluateConditions({ "if-unmodified-since": at("2026-01-02T03:04:05Z") }, object)).toBe("proceed");
    // If-Match holding overrides If-Unmodified-Since; If-None-Match not matching overrides If-Modified-Since.
    expect(
      evaluateConditions({ "if-match": '"abc"', "if-unmodified-since": at("2020-01-01T00:00:00Z") }, object),
    ).toBe("proceed");
    expect(
      evaluateConditions({ "if-none-match": '"x"', "if-modified-since": at("2030-01-01T00:00:00Z") }, object),
    ).toBe("proceed");
    expect(evaluateConditions({ "if-modified-since": "not a date" }, object)).toBe("proceed");
  });

  it("any header values give one of the three outcomes, never an exception", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom("if-match", "if-none-match", "if-modified-since", "if-unmodified-since"),
          fc.string(),
        ),
        (headers) => {
          expect(["proceed", "not-modified", "precondition-failed"]).toContain(
            evaluateConditions(headers, object),
          );
        },
      ),
    );
  });
});
