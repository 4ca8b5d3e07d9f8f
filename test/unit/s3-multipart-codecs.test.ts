// The multipart decoders: the CompleteMultipartUpload body (what the SDK sends round-trips, anything else
// is MalformedXML, never another error), the records kept in the cluster (random bytes never decode into
// a record nor throw), and the part paths of an upload's folder.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodePartRecord,
  decodeUploadRecord,
  encodeRecord,
  isUploadId,
  newUploadId,
  parsePartPath,
  partPath,
  partRecordPath,
} from "../../src/s3/multipart-records.ts";
import { S3Error } from "../../src/s3/s3-error.ts";
import { parseCompleteRequest, xmlDocument } from "../../src/s3/xml.ts";

function s3Code(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    return (err as S3Error).code;
  }
}

const part = fc.record({
  partNumber: fc.integer({ min: 1, max: 10_000 }),
  etag: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{32}-\d{1,3}$/)),
});

describe("CompleteMultipartUpload body", () => {
  it("gives back every part as sent, in the order sent, quoted ETags unquoted, checksums ignored", () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 30 }), fc.boolean(), (parts, quoted) => {
        const xml = xmlDocument("CompleteMultipartUpload", {
          Part: parts.map((p) => ({
            ETag: quoted ? `"${p.etag}"` : p.etag,
            ChecksumCRC32: "AAAAAA==",
            PartNumber: p.partNumber,
          })),
        });
        expect(parseCompleteRequest(xml)).toEqual(parts);
      }),
    );
  });

  it("anything that is not such a document is MalformedXML", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(s3Code(() => parseCompleteRequest(text))).toBe("MalformedXML");
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ PartNumber: fc.string(), ETag: fc.string() }), { maxLength: 5 }),
        (parts) => {
          const xml = xmlDocument("CompleteMultipartUpload", { Part: parts });
          const code = s3Code(() => parseCompleteRequest(xml));
          // Only a document whose every part has a number from 1 to 10,000 and an ETag is accepted.
          expect(code === undefined || code === "MalformedXML").toBe(true);
          if (code === undefined)
            for (const p of parseCompleteRequest(xml)) expect(p.partNumber).toBeGreaterThanOrEqual(1);
        },
      ),
    );
    for (const bad of [
      "<CompleteMultipartUpload></CompleteMultipartUpload>",
      "<CompleteMultipartUpload/>",
      "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
      "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
      "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
      "<CompleteMultipartUpload><Part><PartNumber>1.5</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
      "<Other><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Other>",
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>",
    ]) {
      expect(s3Code(() => parseCompleteRequest(bad))).toBe("MalformedXML");
    }
  });
});

describe("multipart records", () => {
  it("round-trip, and random bytes never decode into one nor throw", () => {
    const upload = { v: 1 as const, key: "a/b c", contentType: "text/plain", userMeta: { k: "v" } };
    expect(decodeUploadRecord(encodeRecord(upload))).toEqual(upload);
    const partRecord = {
      v: 1 as const,
      fileKey: "ab".repeat(32),
      etag: "cd".repeat(16),
      hashes: Buffer.alloc(64, 7).toString("base64"),
    };
    expect(decodePartRecord(encodeRecord(partRecord))).toEqual(partRecord);
    expect(decodeUploadRecord(encodeRecord(partRecord))).toBeUndefined();
    expect(decodePartRecord(encodeRecord(upload))).toBeUndefined();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array(),
          fc.json().map((j) => new TextEncoder().encode(j)),
        ),
        (bytes) => {
          expect(decodeUploadRecord(Buffer.from(bytes))).toBeUndefined();
          expect(decodePartRecord(Buffer.from(bytes))).toBeUndefined();
        },
      ),
    );
  });

  it("upload ids sort by initiation time; part paths name their number and kind", () => {
    const early = newUploadId(1_000);
    const late = newUploadId(2_000);
    expect(isUploadId(early) && isUploadId(late)).toBe(true);
    expect(early < late).toBe(true);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (n) => {
        expect(parsePartPath(partPath(early, n), early)).toEqual({ partNumber: n, record: false });
        expect(parsePartPath(partRecordPath(early, n), early)).toEqual({ partNumber: n, record: true });
        expect(parsePartPath(partPath(early, n), late)).toBeUndefined();
      }),
    );
    expect(parsePartPath(`${partPath(early, 1)}x`, early)).toBeUndefined();
    expect(parsePartPath(partPath(early, 0), early)).toBeUndefined();
  });
});
