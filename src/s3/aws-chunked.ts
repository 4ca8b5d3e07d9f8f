// The aws-chunked body encoding of streaming SigV4 uploads: `hex-size[;chunk-signature=SIG]\r\n DATA \r\n`
// per chunk, a final chunk of size 0, then (in the *-TRAILER modes) trailer lines and an empty line.
// Decoded as a stream: data flows on as it arrives, each chunk's signature is checked at its end, and any
// framing or signature failure throws before the last byte is handed on - so an upload fed from here
// never reaches its commit with bytes that did not verify.
import { createHash } from "node:crypto";
import { S3Error } from "./s3-error.ts";

export interface AwsChunkedOptions {
  /** Every chunk carries `;chunk-signature=` (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
  signed: boolean;
  /** Trailer lines follow the final chunk (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
  trailer: boolean;
  /** Checks one chunk's signature given the SHA-256 (hex) of its data; throws SignatureDoesNotMatch. */
  verifyChunk?: (signature: string, dataSha256: string) => Promise<void>;
  /** Receives each trailer, name in lower case. */
  onTrailer?: (name: string, value: string) => void;
}

/** A chunk header or trailer line longer than this is not aws-chunked. */
const MAX_LINE = 4096;
const CHUNK_HEADER = /^([0-9a-fA-F]{1,13})(?:;chunk-signature=([0-9a-f]{64}))?$/;
const TRAILER_LINE = /^([A-Za-z0-9-]+):(.*)$/;

function malformed(why: string): S3Error {
  return new S3Error("InvalidRequest", `malformed aws-chunked body: ${why}`);
}

export async function* decodeAwsChunked(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: AwsChunkedOptions,
): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  let state: "header" | "data" | "data-end" | "trailer" | "done" = "header";
  let remaining = 0;
  let signature = "";
  // Only a signed body needs each chunk's SHA-256 (the chunk signature covers it); in an unsigned one it
  // was a third of the main thread's hashing, for nothing.
  const newHash = () => (options.signed ? createHash("sha256") : undefined);
  let hash = newHash();

  const endChunk = async (sig: string) => {
    if (options.signed) await options.verifyChunk?.(sig, hash?.digest("hex") ?? "");
  };

  for await (const piece of source) {
    // A view, not a copy: a request body's pieces are never written again once read from the socket.
    carry =
      carry.length === 0
        ? Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
        : Buffer.concat([carry, piece]);
    let at = 0;
    while (at < carry.length) {
      if (state === "data") {
        const n = Math.min(remaining, carry.length - at);
        const data = carry.subarray(at, at + n);
        hash?.update(data);
        at += n;
        remaining -= n;
        if (remaining === 0) state = "data-end";
        yield data;
        continue;
      }
      if (state === "data-end") {
        if (carry.length - at < 2) break;
        if (carry[at] !== 13 || carry[at + 1] !== 10) throw malformed("chunk data not followed by CRLF");
        at += 2;
        await endChunk(signature);
        hash = newHash();
        state = "header";
        continue;
      }
      if (state === "done") throw malformed("bytes after the end of the body");
      const eol = carry.indexOf("\r\n", at);
      if (eol === -1) {
        if (carry.length - at > MAX_LINE) throw malformed("a line longer than 4096 bytes");
        break;
      }
      const line = carry.subarray(at, eol).toString("latin1");
      at = eol + 2;
      if (state === "header") {
        const match = CHUNK_HEADER.exec(line);
        if (!match) throw malformed(`bad chunk header ${JSON.stringify(line.slice(0, 80))}`);
        if (options.signed && match[2] === undefined) throw malformed("a chunk without a chunk-signature");
        if (!options.signed && match[2] !== undefined)
          throw malformed("a chunk-signature in an unsigned body");
        remaining = Number.parseInt(match[1] as string, 16);
        signature = match[2] ?? "";
        if (remaining > 0) {
          state = "data";
        } else {
          await endChunk(signature);
          state = "trailer";
        }
        continue;
      }
      // state === "trailer": trailer lines (only in a trailer mode), then the empty line that ends the body.
      if (line === "") {
        state = "done";
        continue;
      }
      const trailer = TRAILER_LINE.exec(line);
      if (!options.trailer || !trailer)
        throw malformed(`unexpected line ${JSON.stringify(line.slice(0, 80))}`);
      options.onTrailer?.((trailer[1] as string).toLowerCase(), (trailer[2] as string).trim());
    }
    carry = carry.subarray(at);
  }
  // Some clients end the body right after the final chunk's header, without the empty line.
  if (state !== "done" && !(state === "trailer" && carry.length === 0)) {
    throw new S3Error("IncompleteBody", "the request body ended inside an aws-chunked chunk");
  }
}
