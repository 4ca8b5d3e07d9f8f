// The S3 gateway end to end: a real `dmfs s3` process in front of two real nodes, driven by the AWS SDK v3
// (default settings, path-style, custom endpoint). Every operation the gateway serves, each auth failure
// with the error code an S3 client expects (and nothing stored after it), and the same files seen through
// `dmfs upload` / `dmfs read` and S3.
import { createHash, createHmac } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE, runCli, seededBytes, TestCluster, waitFor } from "../helpers/cluster-harness.ts";
import { type RunningGateway, startS3Gateway } from "../helpers/s3-gateway.ts";
import { filesUnder } from "../helpers/secret-scan.ts";

let cluster: TestCluster;
let gateway: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }], { replication: 2, writeQuorum: 2 });
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
    gateway = await startS3Gateway(cluster, 0);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  s3 = gateway.client();
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gateway?.stop();
  await cluster?.stop();
});

/** The S3 error name (its Code) and HTTP status a failed SDK call ended with. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const err = (await p.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (e: unknown) => e,
  )) as { name: string; $metadata?: { httpStatusCode?: number } };
  return { name: err.name, status: err.$metadata?.httpStatusCode };
}

async function bodyOf(p: Promise<{ Body?: unknown }>): Promise<Buffer> {
  const { Body } = await p;
  return Buffer.from(
    await (Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray(),
  );
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest();

describe("buckets", () => {
  it("creates, heads, lists and deletes buckets; a bucket with objects is BucketNotEmpty", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "alpha" }));
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket: "alpha" })))).toEqual({
      name: "BucketAlreadyOwnedByYou",
      status: 409,
    });
    await s3.send(new HeadBucketCommand({ Bucket: "alpha" }));
    const { Buckets } = await s3.send(new ListBucketsCommand({}));
    expect(Buckets?.map((b) => b.Name)).toContain("alpha");
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket: "Not_Valid" })))).toMatchObject({
      name: "InvalidBucketName",
    });
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: "nosuch" })))).toMatchObject({
      status: 404,
    });

    await s3.send(new PutObjectCommand({ Bucket: "alpha", Key: "x", Body: "x" }));
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: "alpha" })))).toEqual({
      name: "BucketNotEmpty",
      status: 409,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: "alpha", Key: "x" }));
    await s3.send(new DeleteBucketCommand({ Bucket: "alpha" }));
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: "alpha" })))).toMatchObject({ status: 404 });
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: "alpha" })))).toEqual({
      name: "NoSuchBucket",
      status: 404,
    });
  });
});

describe("objects", () => {
  const big = 3 * CHUNK_SIZE + 5;

  it("puts and gets objects byte for byte, with Content-Type, x-amz-meta-* and the MD5 ETag kept", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "data" }));
    const small = Buffer.from("hello, S3 on DMFS\n");
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: "data",
        Key: "docs/hello.txt",
        Body: small,
        ContentType: "text/plain",
        Metadata: { owner: "ada", purpose: "test" },
        ContentMD5: md5(small).toString("base64"),
      }),
    );
    expect(put.ETag).toBe(`"${md5(small).toString("hex")}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "docs/hello.txt" }));
    expect(head).toMatchObject({
      ContentLength: small.length,
      ContentType: "text/plain",
      ETag: put.ETag,
      Metadata: { owner: "ada", purpose: "test" },
    });
    expect(
      (await bodyOf(s3.send(new GetObjectCommand({ Bucket: "data", Key: "docs/hello.txt" })))).equals(small),
    ).toBe(true);

    // A stream of unknown length: the SDK sends it aws-chunked with a checksum trailer.
    const bytes = await seededBytes("s3-big", big);
    const streamed = await s3.send(
      new PutObjectCommand({
        Bucket: "data",
        Key: "big.bin",
        Body: Readable.from([bytes.subarray(0, CHUNK_SIZE), bytes.subarray(CHUNK_SIZE)]),
        ContentLength: big,
      }),
    );
    expect(streamed.ETag).toBe(`"${md5(bytes).toString("hex")}"`);
    expect(
      (await bodyOf(s3.send(new GetObjectCommand({ Bucket: "data", Key: "big.bin" })))).equals(bytes),
    ).toBe(true);

    await s3.send(new PutObjectCommand({ Bucket: "data", Key: "empty", Body: Buffer.alloc(0) }));
    expect((await bodyOf(s3.send(new GetObjectCommand({ Bucket: "data", Key: "empty" })))).length).toBe(0);
  });

  it("answers a Range with 206 and exactly that slice, across chunk boundaries; beyond the end InvalidRange", async () => {
    const bytes = await seededBytes("s3-big", big);
    for (const [range, start, end] of [
      ["bytes=0-9", 0, 9],
      [`bytes=${CHUNK_SIZE - 3}-${CHUNK_SIZE + 2}`, CHUNK_SIZE - 3, CHUNK_SIZE + 2],
      [`bytes=${2 * CHUNK_SIZE}-`, 2 * CHUNK_SIZE, big - 1],
      ["bytes=-7", big - 7, big - 1],
    ] as const) {
      const got = await s3.send(new GetObjectCommand({ Bucket: "data", Key: "big.bin", Range: range }));
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect(got.ContentRange).toBe(`bytes ${start}-${end}/${big}`);
      const body = Buffer.from(
        await (got.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray(),
      );
      expect(body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "data", Key: "big.bin", Range: `bytes=${big}-` })),
      ),
    ).toEqual({ name: "InvalidRange", status: 416 });
  });

  it("answers conditional GETs: 304 when the ETag matches If-None-Match or not modified since, 412 when If-Match fails", async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "docs/hello.txt" }));
    const etag = head.ETag as string;
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "data", Key: "docs/hello.txt", IfNoneMatch: etag })),
      ),
    ).toMatchObject({ status: 304 });
    expect(
      await failure(
        s3.send(
          new GetObjectCommand({
            Bucket: "data",
            Key: "docs/hello.txt",
            IfModifiedSince: new Date(Date.now() + 60_000),
          }),
        ),
      ),
    ).toMatchObject({ status: 304 });
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "data", Key: "docs/hello.txt", IfMatch: '"0123"' })),
      ),
    ).toEqual({ name: "PreconditionFailed", status: 412 });
    const got = await s3.send(
      new GetObjectCommand({ Bucket: "data", Key: "docs/hello.txt", IfMatch: etag, IfNoneMatch: '"other"' }),
    );
    expect(got.$metadata.httpStatusCode).toBe(200);
    await got.Body?.transformToByteArray();
  });

  it("copies an object with its metadata, or with new metadata (REPLACE); the copy is a file like any other", async () => {
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: "data", Key: "copies/hello.txt", CopySource: "data/docs/hello.txt" }),
    );
    const original = await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "docs/hello.txt" }));
    expect(copied.CopyObjectResult?.ETag).toBe(original.ETag);
    expect(await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "copies/hello.txt" }))).toMatchObject({
      ContentType: "text/plain",
      Metadata: { owner: "ada", purpose: "test" },
    });
    await s3.send(
      new CopyObjectCommand({
        Bucket: "data",
        Key: "copies/hello.txt",
        CopySource: "data/copies/hello.txt",
        MetadataDirective: "REPLACE",
        ContentType: "text/markdown",
        Metadata: { owner: "grace" },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "copies/hello.txt" }));
    expect(replaced).toMatchObject({
      ContentType: "text/markdown",
      Metadata: { owner: "grace" },
      ETag: original.ETag,
    });
    expect(
      (await bodyOf(s3.send(new GetObjectCommand({ Bucket: "data", Key: "copies/hello.txt" })))).toString(),
    ).toBe("hello, S3 on DMFS\n");
    expect(
      await failure(
        s3.send(new CopyObjectCommand({ Bucket: "data", Key: "x", CopySource: "data/no-such-key" })),
      ),
    ).toEqual({ name: "NoSuchKey", status: 404 });
  });

  it("refuses a body that does not match its Content-MD5 (BadDigest) and stores nothing", async () => {
    const err = await failure(
      s3.send(
        new PutObjectCommand({
          Bucket: "data",
          Key: "bad-md5",
          Body: "abc",
          ContentMD5: md5(Buffer.from("abd")).toString("base64"),
        }),
      ),
    );
    expect(err).toEqual({ name: "BadDigest", status: 400 });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: "data", Key: "bad-md5" })))).toMatchObject({
      status: 404,
    });
    // The CRC32 the SDK sends (here one given by hand, and wrong) is checked too.
    expect(
      await failure(
        s3.send(
          new PutObjectCommand({ Bucket: "data", Key: "bad-crc", Body: "abc", ChecksumCRC32: "AAAAAA==" }),
        ),
      ),
    ).toEqual({ name: "BadDigest", status: 400 });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: "data", Key: "bad-crc" })))).toMatchObject({
      status: 404,
    });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: "data", Key: "bad-md5" })))).toEqual({
      name: "NoSuchKey",
      status: 404,
    });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: "nobucket", Key: "k", Body: "x" })))).toEqual(
      { name: "NoSuchBucket", status: 404 },
    );
  });

  it("lists with prefix, delimiter, max-keys and continuation (V2) and markers (V1)", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "list" }));
    const keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d é", "e+f"];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: "list", Key, Body: Key }));
    const all: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await s3.send(
        new ListObjectsV2Command({ Bucket: "list", MaxKeys: 3, ContinuationToken: token }),
      );
      expect((got.Contents ?? []).length).toBeLessThanOrEqual(3);
      all.push(...(got.Contents ?? []).map((c) => c.Key as string));
      if (!got.IsTruncated) break;
      token = got.NextContinuationToken;
    }
    expect(all).toEqual(keys);
    const folders = await s3.send(new ListObjectsV2Command({ Bucket: "list", Delimiter: "/" }));
    expect(folders.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "b/"]);
    expect(folders.Contents?.map((c) => c.Key)).toEqual(["c", "d é", "e+f"]);
    expect(folders.Contents?.[0]).toMatchObject({
      Size: 1,
      ETag: `"${md5(Buffer.from("c")).toString("hex")}"`,
    });
    const inA = await s3.send(new ListObjectsV2Command({ Bucket: "list", Prefix: "a/", Delimiter: "/" }));
    expect(inA.Contents?.map((c) => c.Key)).toEqual(["a/1", "a/2"]);
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/b/"]);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: "list", StartAfter: "b/1" }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(["c", "d é", "e+f"]);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: "list", Marker: "a/2", MaxKeys: 2 }));
    expect(v1.Contents?.map((c) => c.Key)).toEqual(["a/b/3", "b/1"]);
    expect(v1.IsTruncated).toBe(true);
    expect(
      await failure(s3.send(new ListObjectsV2Command({ Bucket: "list", ContinuationToken: "not-a-token!" }))),
    ).toMatchObject({ name: "InvalidArgument", status: 400 });
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: "nolist" })))).toEqual({
      name: "NoSuchBucket",
      status: 404,
    });
  });

  it("answers as an unversioned bucket: each object one version 'null'; V1 markers page through common prefixes", async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: "list" }))).Status).toBeUndefined();
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: "list", Prefix: "a/" }));
    expect(versions.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ["a/1", "null", true],
      ["a/2", "null", true],
      ["a/b/3", "null", true],
    ]);
    const seen: string[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await s3.send(
        new ListObjectsCommand({ Bucket: "list", Delimiter: "/", MaxKeys: 1, Marker: marker }),
      );
      seen.push(
        ...(got.CommonPrefixes ?? []).map((p) => p.Prefix as string),
        ...(got.Contents ?? []).map((c) => c.Key as string),
      );
      if (!got.IsTruncated) break;
      marker = got.NextMarker;
    }
    expect(seen).toEqual(["a/", "b/", "c", "d é", "e+f"]);
    const got = await s3.send(new GetObjectCommand({ Bucket: "list", Key: "c", VersionId: "null" }));
    expect(await got.Body?.transformToString()).toBe("c");
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "list", Key: "c", VersionId: "3HL4kqtJlcpXroDTDmJ" })),
      ),
    ).toEqual({ name: "InvalidArgument", status: 400 });
  });

  it("deletes one object, and several at once (a missing key counts as deleted)", async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: "list", Key: "c", VersionId: "null" }));
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: "list", Key: "c" })))).toMatchObject({
      status: 404,
    });
    const res = await s3.send(
      new DeleteObjectsCommand({
        Bucket: "list",
        Delete: { Objects: [{ Key: "a/1" }, { Key: "a/2" }, { Key: "never-was" }] },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(["a/1", "a/2", "never-was"]);
    expect(res.Errors ?? []).toEqual([]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: "list" }));
    expect(left.Contents?.map((c) => c.Key)).toEqual(["a/b/3", "b/1", "d é", "e+f"]);
  });
});

describe("authentication", () => {
  it("a wrong secret is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, a skewed clock RequestTimeTooSkewed; none stores anything", async () => {
    const cases: [S3Client, string][] = [
      [
        gateway.client({
          credentials: { accessKeyId: gateway.accessKeyId, secretAccessKey: "x".repeat(40) },
        }),
        "SignatureDoesNotMatch",
      ],
      [
        gateway.client({
          credentials: { accessKeyId: "DMNOSUCHKEY000000000", secretAccessKey: gateway.secretAccessKey },
        }),
        "InvalidAccessKeyId",
      ],
      // The SDK corrects its clock after this error and retries; one attempt shows the error itself.
      [gateway.client({ systemClockOffset: 20 * 60 * 1000, maxAttempts: 1 }), "RequestTimeTooSkewed"],
    ];
    for (const [client, code] of cases) {
      expect(
        await failure(
          client.send(new PutObjectCommand({ Bucket: "data", Key: `refused-${code}`, Body: "no" })),
        ),
      ).toEqual({ name: code, status: 403 });
      // After a skew error the SDK takes the server's clock from the response, so only other failures repeat.
      if (code !== "RequestTimeTooSkewed") {
        expect(await failure(client.send(new ListBucketsCommand({})))).toEqual({ name: code, status: 403 });
      }
      expect(
        await failure(s3.send(new HeadObjectCommand({ Bucket: "data", Key: `refused-${code}` }))),
      ).toMatchObject({ status: 404 });
      client.destroy();
    }
    const anonymous = await fetch(`${gateway.endpoint}/data/docs/hello.txt`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
  });

  it("presigned GET and PUT work until they expire; an expired one is AccessDenied and stores nothing", async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: "data", Key: "presigned.txt" }), {
      expiresIn: 300,
    });
    expect((await fetch(putUrl, { method: "PUT", body: "by presigned URL" })).status).toBe(200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "data", Key: "presigned.txt" }), {
      expiresIn: 300,
    });
    const got = await fetch(getUrl);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("by presigned URL");
    const tampered = await fetch(getUrl.replace("presigned.txt", "docs/hello.txt"));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain("<Code>SignatureDoesNotMatch</Code>");

    const past = new Date(Date.now() - 10 * 60 * 1000);
    const expiredPut = await getSignedUrl(s3, new PutObjectCommand({ Bucket: "data", Key: "expired.txt" }), {
      expiresIn: 60,
      signingDate: past,
    });
    const refused = await fetch(expiredPut, { method: "PUT", body: "too late" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("<Code>AccessDenied</Code>");
    expect(
      await failure(s3.send(new HeadObjectCommand({ Bucket: "data", Key: "expired.txt" }))),
    ).toMatchObject({ status: 404 });
  });

  it("STREAMING-AWS4-HMAC-SHA256-PAYLOAD: stored when every chunk signature holds, refused (403) and not stored when one does not", async () => {
    const data = await seededBytes("s3-chunked", 200_000);
    const ok = await chunkedPut("data", "chunked.bin", data, 64 * 1024, false);
    expect(ok.status).toBe(200);
    expect(
      (await bodyOf(s3.send(new GetObjectCommand({ Bucket: "data", Key: "chunked.bin" })))).equals(data),
    ).toBe(true);
    const bad = await chunkedPut("data", "chunked-bad.bin", data, 64 * 1024, true);
    expect(bad.status).toBe(403);
    expect(bad.body).toContain("<Code>SignatureDoesNotMatch</Code>");
    expect(
      await failure(s3.send(new HeadObjectCommand({ Bucket: "data", Key: "chunked-bad.bin" }))),
    ).toMatchObject({ status: 404 });
  });
});

describe("access keys", () => {
  it("live only in the client bundle (mode 0600): no node's bundle or root holds the file or the secret", async () => {
    expect((await stat(join(cluster.clusterDir, "s3-keys.json"))).mode & 0o777).toBe(0o600);
    const secret = Buffer.from(gateway.secretAccessKey);
    for (let i = 0; i < cluster.addrs.length; i++) {
      for (const file of [
        ...(await filesUnder(cluster.bundleDir(i))),
        ...(await filesUnder(cluster.nodes[i]?.root ?? "")),
      ]) {
        expect(file).not.toContain("s3-keys");
        expect((await readFile(file)).includes(secret), file).toBe(false);
      }
    }
  });
});

describe("one namespace", () => {
  it("a file uploaded with `dmfs upload` is readable through S3, and an S3 object with `dmfs read` and `dmfs ls`", async () => {
    const access = ["--node", cluster.addrs[1] as string, "--cluster", cluster.clusterDir];
    const content = await seededBytes("cli-to-s3", CHUNK_SIZE + 17);
    const up = await runCli(
      ["upload", "-", "--path", "shared/from-cli.bin", ...access],
      60_000,
      Readable.from([content]),
    );
    expect(up.code, up.stderr).toBe(0);
    expect(
      (await bodyOf(s3.send(new GetObjectCommand({ Bucket: "shared", Key: "from-cli.bin" })))).equals(
        content,
      ),
    ).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: "shared", Key: "from-cli.bin" }));
    expect(head.ContentLength).toBe(content.length);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-1"$/);
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain("shared");

    await s3.send(
      new PutObjectCommand({ Bucket: "shared", Key: "from-s3/note.txt", Body: "written through S3" }),
    );
    const read = await runCli(["read", "shared/from-s3/note.txt", ...access]);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe("written through S3");
    const ls = await runCli(["ls", "--json", ...access]);
    expect((JSON.parse(ls.stdout) as { path: string }[]).map((f) => f.path)).toEqual(
      expect.arrayContaining(["shared/from-cli.bin", "shared/from-s3/note.txt"]),
    );
  });
});

/** A PutObject sent as STREAMING-AWS4-HMAC-SHA256-PAYLOAD, chunk signatures chained per the specification. */
async function chunkedPut(
  bucket: string,
  key: string,
  data: Buffer,
  chunk: number,
  corruptSecond: boolean,
): Promise<{ status: number; body: string }> {
  const url = new URL(gateway.endpoint);
  const now = new Date();
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  chunks.push(Buffer.alloc(0));
  const sigLength = ";chunk-signature=".length + 64;
  const bodyLength = chunks.reduce(
    (n, c) => n + c.length.toString(16).length + sigLength + 2 + c.length + 2,
    0,
  );
  const headers: Record<string, string> = {
    host: url.host,
    "content-encoding": "aws-chunked",
    "content-length": String(bodyLength),
    "x-amz-decoded-content-length": String(data.length),
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId: gateway.accessKeyId, secretAccessKey: gateway.secretAccessKey },
    region: "us-east-1",
    service: "s3",
    sha256: TestSha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign(
    {
      method: "PUT",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: `/${bucket}/${key}`,
      headers,
      query: {},
    },
    { signingDate: now },
  );
  let previous = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] as string;
  const date = String(signed.headers["x-amz-date"]);
  let signingKey: Buffer = createHmac("sha256", `AWS4${gateway.secretAccessKey}`)
    .update(date.slice(0, 8))
    .digest();
  for (const part of ["us-east-1", "s3", "aws4_request"])
    signingKey = createHmac("sha256", signingKey).update(part).digest();
  const parts: Buffer[] = [];
  chunks.forEach((c, i) => {
    const toSign = [
      "AWS4-HMAC-SHA256-PAYLOAD",
      date,
      `${date.slice(0, 8)}/us-east-1/s3/aws4_request`,
      previous,
      createHash("sha256").update("").digest("hex"),
      createHash("sha256").update(c).digest("hex"),
    ].join("\n");
    previous = createHmac("sha256", signingKey).update(toSign).digest("hex");
    const shown =
      corruptSecond && i === 1 ? previous.replace(/^./, (ch) => (ch === "0" ? "1" : "0")) : previous;
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${shown}\r\n`), c, Buffer.from("\r\n"));
  });
  const body = Buffer.concat(parts);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: "PUT",
        path: `/${bucket}/${key}`,
        headers: signed.headers,
      },
      (res) => {
        const got: Buffer[] = [];
        res.on("data", (b: Buffer) => got.push(b));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(got).toString() }));
      },
    );
    // The gateway may answer (and close) before it has read the whole body.
    req.on("error", reject);
    req.end(body);
  });
}

class TestSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash("sha256")
        : createHmac("sha256", typeof secret === "string" ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

// Last: it restarts node 0, which the gateway talks to.
describe("a gateway whose node restarts", () => {
  it("answers 503 while its node is down and serves again once it is back, without a restart of dmfs s3", async () => {
    const oneTry = gateway.client({ maxAttempts: 1 });
    const head = () => oneTry.send(new HeadObjectCommand({ Bucket: "data", Key: "docs/hello.txt" }));
    await cluster.kill(0);
    expect(await failure(head())).toMatchObject({ status: 503 });
    await cluster.start(0);
    await cluster.waitForMesh();
    const back = await waitFor(
      "the gateway to serve again",
      async () => (await head()).ContentLength,
      30_000,
    );
    expect(back).toBe("hello, S3 on DMFS\n".length);
    oneTry.destroy();
  });
});
