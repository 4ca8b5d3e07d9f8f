// The MD5 of a body as it streams past (S3's ETag of a single-part object, and of each part), checked
// against the Content-MD5 the client sent before the last bytes are handed on: what is built from a body
// that fails the check never reaches its commit.
import { createHash } from "node:crypto";

export interface Md5Body {
  bytes: AsyncIterable<Uint8Array>;
  /** The MD5 of every byte, once `bytes` has been read to its end. */
  md5: () => Buffer;
}

export function md5Checked(body: AsyncIterable<Uint8Array>, check?: (md5: Buffer) => void): Md5Body {
  const hash = createHash("md5");
  let digest: Buffer | undefined;
  async function* bytes() {
    for await (const piece of body) {
      hash.update(piece);
      yield piece;
    }
    digest = hash.digest();
    check?.(digest);
  }
  return {
    bytes: bytes(),
    md5: () => {
      if (digest === undefined) throw new Error("the body's MD5 was asked for before its end");
      return digest;
    },
  };
}
