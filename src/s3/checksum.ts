// The additional checksums recent SDKs send with a PutObject (x-amz-checksum-ALG, as a header or as an
// aws-chunked trailer): checked as the body streams, and a mismatch throws before the body's end so the
// object is not stored. CRC32, SHA-1 and SHA-256 are checked; CRC32C and CRC64NVME (no implementation in
// Node's standard library) are accepted unchecked for now.
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { crc32 } from "node:zlib";
import { S3Error } from "./s3-error.ts";

interface Running {
  update(data: Uint8Array): void;
  /** Base64 of the digest, as S3 writes checksums. */
  digest(): string;
}

const ALGORITHMS: Record<string, () => Running> = {
  crc32: () => {
    let value = 0;
    return {
      update: (data) => {
        value = crc32(data, value);
      },
      digest: () => {
        const out = Buffer.alloc(4);
        out.writeUInt32BE(value >>> 0);
        return out.toString("base64");
      },
    };
  },
  sha1: () => hashOf("sha1"),
  sha256: () => hashOf("sha256"),
};

function hashOf(name: string): Running {
  const hash = createHash(name);
  return { update: (data) => hash.update(data), digest: () => hash.digest("base64") };
}

/**
 * `source` checked against the checksum the request declares: `x-amz-checksum-ALG` among `headers`,
 * or named by `x-amz-trailer` and found in `trailers` (filled as the aws-chunked body ends).
 */
export async function* checksumChecked(
  source: AsyncIterable<Uint8Array>,
  headers: IncomingHttpHeaders,
  trailers: Map<string, string>,
): AsyncGenerator<Uint8Array> {
  const trailer =
    typeof headers["x-amz-trailer"] === "string" ? headers["x-amz-trailer"].trim().toLowerCase() : undefined;
  const named =
    trailer ??
    Object.keys(headers).find((h) => h.startsWith("x-amz-checksum-") && h !== "x-amz-checksum-type");
  const algorithm = named?.slice("x-amz-checksum-".length);
  const make = algorithm === undefined ? undefined : ALGORITHMS[algorithm];
  if (!named || !make) {
    yield* source;
    return;
  }
  const running = make();
  for await (const piece of source) {
    running.update(piece);
    yield piece;
  }
  const declared = trailer ? trailers.get(named) : headers[named];
  if (typeof declared !== "string") {
    throw new S3Error("InvalidRequest", `the request names the checksum ${named} but does not send it`);
  }
  const actual = running.digest();
  if (declared.trim() !== actual) {
    throw new S3Error(
      "BadDigest",
      `The ${algorithm?.toUpperCase()} you specified did not match the calculated checksum.`,
    );
  }
}
