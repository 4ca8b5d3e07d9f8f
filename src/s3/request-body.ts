// A request's body as the bytes the client meant, checked the way its signature says: the SHA-256 it
// signed, aws-chunked with each chunk's signature, or nothing more (UNSIGNED-PAYLOAD); and against the
// additional checksum it declares (checksum.ts). A body that fails
// throws before its last byte is handed on, so nothing built from it is ever committed.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { decodeAwsChunked } from "./aws-chunked.ts";
import { checksumChecked } from "./checksum.ts";
import { S3Error } from "./s3-error.ts";
import type { PayloadMode } from "./sigv4.ts";

export function requestBody(req: IncomingMessage, payload: PayloadMode): AsyncIterable<Uint8Array> {
  const trailers = new Map<string, string>();
  return checksumChecked(signedBody(req, payload, trailers), req.headers, trailers);
}

function signedBody(
  req: IncomingMessage,
  payload: PayloadMode,
  trailers: Map<string, string>,
): AsyncIterable<Uint8Array> {
  switch (payload.kind) {
    case "unsigned":
      return req;
    case "sha256":
      return sha256Checked(req, payload.sha256);
    case "chunked-signed":
    case "chunked-unsigned-trailer":
      return decodedLengthChecked(
        decodeAwsChunked(req, {
          signed: payload.kind === "chunked-signed",
          trailer: payload.kind === "chunked-unsigned-trailer",
          ...(payload.kind === "chunked-signed" ? { verifyChunk: payload.verifyChunk } : {}),
          onTrailer: (name, value) => trailers.set(name, value),
        }),
        req.headers["x-amz-decoded-content-length"],
      );
  }
}

/** A small body (an XML document) read whole, checked like any other; more than `limit` bytes is refused. */
export async function readSmallBody(
  req: IncomingMessage,
  payload: PayloadMode,
  limit: number,
): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of requestBody(req, payload)) {
    total += piece.length;
    if (total > limit) throw new S3Error("EntityTooLarge", `the request body is larger than ${limit} bytes`);
    pieces.push(Buffer.from(piece));
  }
  return Buffer.concat(pieces);
}

/** Content-MD5 (base64), when the client sent one: the check to run on the body's MD5 at its end. */
export function contentMd5Check(header: string | undefined): ((md5: Buffer) => void) | undefined {
  if (header === undefined) return undefined;
  const expected = Buffer.from(header, "base64");
  if (expected.length !== 16 || expected.toString("base64") !== header.trim()) {
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified is not valid.");
  }
  return (md5) => {
    if (!md5.equals(expected)) {
      throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
    }
  };
}

async function* sha256Checked(
  source: AsyncIterable<Uint8Array>,
  expected: string,
): AsyncGenerator<Uint8Array> {
  const hash = createHash("sha256");
  for await (const piece of source) {
    hash.update(piece);
    yield piece;
  }
  const actual = hash.digest("hex");
  if (actual !== expected) {
    throw new S3Error(
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      {
        ClientComputedContentSHA256: expected,
        S3ComputedContentSHA256: actual,
      },
    );
  }
}

async function* decodedLengthChecked(
  source: AsyncIterable<Uint8Array>,
  declared: string | string[] | undefined,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const piece of source) {
    total += piece.length;
    yield piece;
  }
  if (typeof declared === "string" && Number(declared) !== total) {
    throw new S3Error(
      "IncompleteBody",
      `x-amz-decoded-content-length says ${declared} bytes, the body held ${total}`,
    );
  }
}
