// SigV4 verification against AWS's own published examples (the S3 documentation's GET with a Range,
// presigned URL and aws-chunked upload, with their signatures), and the aws-chunked decoder against
// generated bodies signed here with a plain HMAC chain written from the specification.
import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAwsChunked } from "../../src/s3/aws-chunked.ts";
import { S3Error } from "../../src/s3/s3-error.ts";
import { parseQuery } from "../../src/s3/server.ts";
import { type Authenticated, authenticate, EMPTY_SHA256, type ReceivedRequest } from "../../src/s3/sigv4.ts";

const ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const secretOf = (id: string) => (id === ID ? SECRET : undefined);
const WHEN = new Date("2013-05-24T00:00:00Z");
const HOST = "examplebucket.s3.amazonaws.com";

function getObjectExample(
  signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
): ReceivedRequest {
  return {
    method: "GET",
    rawPath: "/test.txt",
    query: new Map(),
    headers: {
      host: HOST,
      range: "bytes=0-9",
      "x-amz-content-sha256": EMPTY_SHA256,
      "x-amz-date": "20130524T000000Z",
      authorization: `AWS4-HMAC-SHA256 Credential=${ID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
    },
  };
}

async function authCode(req: ReceivedRequest, now = WHEN): Promise<string | undefined> {
  try {
    await authenticate(req, secretOf, now);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    return (err as S3Error).code;
  }
}

describe("SigV4 in the Authorization header", () => {
  it("accepts AWS's GetObject example and refuses it with any other signature", async () => {
    const auth = await authenticate(getObjectExample(), secretOf, WHEN);
    expect(auth).toMatchObject({ accessKeyId: ID, payload: { kind: "sha256", sha256: EMPTY_SHA256 } });
    expect(
      await authCode(getObjectExample("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb42")),
    ).toBe("SignatureDoesNotMatch");
    const changed = getObjectExample();
    changed.headers.range = "bytes=0-10";
    expect(await authCode(changed)).toBe("SignatureDoesNotMatch");
  });

  it("names an unknown key, a skewed clock, a missing or foreign Authorization", async () => {
    const unknown = getObjectExample();
    unknown.headers.authorization = String(unknown.headers.authorization).replace(ID, "AKIANOTAKEY000000000");
    expect(await authCode(unknown)).toBe("InvalidAccessKeyId");
    expect(await authCode(getObjectExample(), new Date(WHEN.getTime() + 15 * 60_000 + 1000))).toBe(
      "RequestTimeTooSkewed",
    );
    expect(await authCode(getObjectExample(), new Date(WHEN.getTime() - 15 * 60_000 - 1000))).toBe(
      "RequestTimeTooSkewed",
    );
    expect(await authCode(getObjectExample(), new Date(WHEN.getTime() + 14 * 60_000))).toBeUndefined();
    const anonymous = getObjectExample();
    delete anonymous.headers.authorization;
    expect(await authCode(anonymous)).toBe("AccessDenied");
    const v2 = getObjectExample();
    v2.headers.authorization = `AWS ${ID}:abc`;
    expect(await authCode(v2)).toBe("InvalidRequest");
    const garbled = getObjectExample();
    garbled.headers.authorization = "AWS4-HMAC-SHA256 Credential=x";
    expect(await authCode(garbled)).toBe("AuthorizationHeaderMalformed");
  });
});

describe("presigned URLs", () => {
  const url =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  const presigned = (query = url): ReceivedRequest => ({
    method: "GET",
    rawPath: "/test.txt",
    query: parseQuery(query),
    headers: { host: HOST },
  });

  it("accepts AWS's example until it expires, then AccessDenied", async () => {
    expect((await authenticate(presigned(), secretOf, WHEN)).payload).toEqual({ kind: "unsigned" });
    expect(await authCode(presigned(), new Date(WHEN.getTime() + 86_399_000))).toBeUndefined();
    expect(await authCode(presigned(), new Date(WHEN.getTime() + 86_401_000))).toBe("AccessDenied");
  });

  it("refuses a changed path, signature or expiry", async () => {
    expect(await authCode({ ...presigned(), rawPath: "/test2.txt" })).toBe("SignatureDoesNotMatch");
    expect(await authCode(presigned(url.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401")))).toBe(
      "SignatureDoesNotMatch",
    );
    expect(await authCode(presigned(url.replace("d404", "d405")))).toBe("SignatureDoesNotMatch");
    expect(await authCode(presigned(url.replace("X-Amz-Expires=86400", "X-Amz-Expires=999999")))).toBe(
      "AuthorizationQueryParametersError",
    );
    expect(await authCode(presigned(url.replace(ID, "AKIANOTAKEY000000000")))).toBe("InvalidAccessKeyId");
  });
});

describe("aws-chunked uploads", () => {
  const seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
  const chunkSigs = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
  ];
  const exampleRequest = (): ReceivedRequest => ({
    method: "PUT",
    rawPath: "/examplebucket/chunkObject.txt",
    query: new Map(),
    headers: {
      host: "s3.amazonaws.com",
      "content-encoding": "aws-chunked",
      "content-length": "66824",
      "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      "x-amz-date": "20130524T000000Z",
      "x-amz-decoded-content-length": "66560",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      authorization: `AWS4-HMAC-SHA256 Credential=${ID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${seed}`,
    },
  });
  const exampleBody = (sigs = chunkSigs) =>
    Buffer.concat([
      Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
      Buffer.alloc(65536, "a"),
      Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
      Buffer.alloc(1024, "a"),
      Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`),
    ]);

  async function decodeWith(auth: Authenticated, body: Buffer, pieceSize = 1000): Promise<Buffer> {
    if (auth.payload.kind !== "chunked-signed") throw new Error(`payload ${auth.payload.kind}`);
    async function* pieces() {
      for (let i = 0; i < body.length; i += pieceSize) yield body.subarray(i, i + pieceSize);
    }
    const out: Buffer[] = [];
    for await (const piece of decodeAwsChunked(pieces(), {
      signed: true,
      trailer: false,
      verifyChunk: auth.payload.verifyChunk,
    })) {
      out.push(Buffer.from(piece));
    }
    return Buffer.concat(out);
  }

  it("accepts AWS's example with each chunk signature checked", async () => {
    const auth = await authenticate(exampleRequest(), secretOf, WHEN);
    expect((await decodeWith(auth, exampleBody())).equals(Buffer.alloc(66560, "a"))).toBe(true);
  });

  it("refuses a body whose second chunk signature is wrong, before it ends", async () => {
    const auth = await authenticate(exampleRequest(), secretOf, WHEN);
    const bad = [chunkSigs[0], chunkSigs[1]?.replace("0055", "0056"), chunkSigs[2]] as string[];
    await expect(decodeWith(auth, exampleBody(bad))).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
  });

  // The specification's chain, written out here: each chunk signs the previous signature and its data hash.
  function signingKey(date: string) {
    let key: Buffer = createHmac("sha256", `AWS4${SECRET}`).update(date).digest();
    for (const part of ["us-east-1", "s3", "aws4_request"])
      key = createHmac("sha256", key).update(part).digest();
    return key;
  }
  function encodeSigned(chunks: Buffer[], seedSig: string): Buffer {
    const key = signingKey("20130524");
    let previous = seedSig;
    const parts: Buffer[] = [];
    for (const data of [...chunks, Buffer.alloc(0)]) {
      const sha = createHash("sha256").update(data).digest("hex");
      const toSign = [
        "AWS4-HMAC-SHA256-PAYLOAD",
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        previous,
        EMPTY_SHA256,
        sha,
      ].join("\n");
      previous = createHmac("sha256", key).update(toSign).digest("hex");
      parts.push(
        Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`),
        data,
        Buffer.from("\r\n"),
      );
    }
    return Buffer.concat(parts);
  }

  it("decodes any chunking of any data, arriving in any pieces; any flipped byte fails with an S3 error", async () => {
    const auth0 = await authenticate(exampleRequest(), secretOf, WHEN);
    expect(auth0.payload.kind).toBe("chunked-signed");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 200 }),
        fc.nat(),
        async (chunks, pieceSize, flipAt) => {
          const body = encodeSigned(
            chunks.map((c) => Buffer.from(c)),
            seed,
          );
          const auth = await authenticate(exampleRequest(), secretOf, WHEN);
          const decoded = await decodeWith(auth, body, pieceSize);
          expect(decoded.equals(Buffer.concat(chunks))).toBe(true);
          const flipped = Buffer.from(body);
          const i = flipAt % flipped.length;
          flipped[i] = (flipped[i] as number) ^ 0x01;
          const again = await authenticate(exampleRequest(), secretOf, WHEN);
          const err = await decodeWith(again, flipped, pieceSize).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(S3Error);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("unsigned trailer mode passes the data and the trailers; a truncated body is IncompleteBody", async () => {
    const trailers: [string, string][] = [];
    const body = Buffer.from("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    const out: Buffer[] = [];
    for await (const p of decodeAwsChunked([body], {
      signed: false,
      trailer: true,
      onTrailer: (n, v) => trailers.push([n, v]),
    }))
      out.push(Buffer.from(p));
    expect(Buffer.concat(out).toString()).toBe("hello");
    expect(trailers).toEqual([["x-amz-checksum-crc32", "AAAAAA=="]]);
    const cut = decodeAwsChunked([body.subarray(0, 8)], { signed: false, trailer: true });
    await expect(
      (async () => {
        for await (const _ of cut) {
          /* drain */
        }
      })(),
    ).rejects.toMatchObject({ code: "IncompleteBody" });
  });
});
