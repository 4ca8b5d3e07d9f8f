// S3 multipart uploads end to end: a real `dmfs s3` process in front of two real nodes (R=2, W=2, GC grace
// 2 s), driven by the AWS SDK v3 (default settings, path-style). Parts are stored in the cluster as they
// arrive and Complete composes the object from them without moving their data; an upload survives a
// restart of the gateway; an abandoned one is aborted by the gateway and its bytes come back after GC.
import { createHash } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileClient } from "../../src/client/file-client.ts";
import { collector, seededBytes, seededSlice, TestCluster, waitFor } from "../helpers/cluster-harness.ts";
import { type RunningGateway, startS3Gateway } from "../helpers/s3-gateway.ts";

const MIB = 1024 * 1024;
const GRACE_MS = 2_000;
let cluster: TestCluster;
let gateway: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  cluster = await TestCluster.create(
    [
      { join: [], extraArgs: ["--gc-grace-ms", String(GRACE_MS)] },
      { join: [0], extraArgs: ["--gc-grace-ms", String(GRACE_MS)] },
    ],
    { replication: 2, writeQuorum: 2 },
  );
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
    gateway = await startS3Gateway(cluster, 0);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  s3 = gateway.client();
  await s3.send(new CreateBucketCommand({ Bucket: "mpu" }));
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gateway?.stop();
  await cluster?.stop();
});

async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const err = (await p.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (e: unknown) => e,
  )) as { name: string; $metadata?: { httpStatusCode?: number } };
  return { name: err.name, status: err.$metadata?.httpStatusCode };
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** S3's multipart ETag: the MD5 of the parts' MD5s, then the part count. */
function multipartEtag(parts: Buffer[]): string {
  return `"${createHash("md5")
    .update(Buffer.concat(parts.map((p) => md5(p))))
    .digest("hex")}-${parts.length}"`;
}

/** SHA-256 of an object read with GetObject, streamed (never whole in memory). */
async function objectSha(client: S3Client, key: string, range?: string): Promise<string> {
  const { Body } = await client.send(new GetObjectCommand({ Bucket: "mpu", Key: key, Range: range }));
  const hash = createHash("sha256");
  for await (const piece of Body as Readable) hash.update(piece as Buffer);
  return hash.digest("hex");
}

async function uploadParts(client: S3Client, key: string, parts: Buffer[]): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: "mpu", Key: key }));
  for (const [i, body] of parts.entries())
    await client.send(
      new UploadPartCommand({ Bucket: "mpu", Key: key, UploadId, PartNumber: i + 1, Body: body }),
    );
  return UploadId as string;
}

const bytesIn = async () =>
  (await Promise.all([0, 1].map((i) => cluster.status(i)))).reduce((sum, s) => sum + s.counters.bytesIn, 0);

describe("multipart upload", () => {
  it("stores 100 MiB sent in 8 MiB parts, composes it without moving its data, and reads it back byte for byte", async () => {
    const size = 100 * MIB;
    const seed = "mp-100";
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: "mpu",
        Key: "big/100.bin",
        ContentType: "application/x-test",
        Metadata: { origin: "multipart" },
      }),
    );
    const parts: { PartNumber: number; ETag: string }[] = [];
    const md5s: Buffer[] = [];
    for (let start = 0, n = 1; start < size; start += 8 * MIB, n++) {
      const body = seededSlice(seed, start, Math.min(size, start + 8 * MIB));
      md5s.push(md5(body));
      const { ETag } = await s3.send(
        new UploadPartCommand({ Bucket: "mpu", Key: "big/100.bin", UploadId, PartNumber: n, Body: body }),
      );
      expect(ETag).toBe(`"${md5(body).toString("hex")}"`);
      parts.push({ PartNumber: n, ETag: ETag as string });
    }
    expect(parts).toHaveLength(13);
    const before = await bytesIn();
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "mpu",
        Key: "big/100.bin",
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    // Both nodes together received under 1 MiB while the object was composed: records and index
    // objects, not the 100 MiB (which, sent again, would be 200 MiB in with R=2).
    expect((await bytesIn()) - before).toBeLessThan(MIB);
    const etag = `"${createHash("md5").update(Buffer.concat(md5s)).digest("hex")}-13"`;
    expect(done.ETag).toBe(etag);

    const head = await s3.send(new HeadObjectCommand({ Bucket: "mpu", Key: "big/100.bin" }));
    expect(head).toMatchObject({
      ContentLength: size,
      ETag: etag,
      ContentType: "application/x-test",
      Metadata: { origin: "multipart" },
    });
    const whole = createHash("sha256");
    for (let start = 0; start < size; start += 8 * MIB)
      whole.update(seededSlice(seed, start, Math.min(size, start + 8 * MIB)));
    expect(await objectSha(s3, "big/100.bin")).toBe(whole.digest("hex"));
    // A range across the boundary of parts 1 and 2.
    const from = 8 * MIB - 100;
    expect(await objectSha(s3, "big/100.bin", `bytes=${from}-${from + 199}`)).toBe(
      sha256(seededSlice(seed, from, from + 200)),
    );
    // The upload and its parts are gone.
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu" }))).Uploads ?? []).toEqual([]);
    expect(
      await failure(s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "big/100.bin", UploadId }))),
    ).toEqual({ name: "NoSuchUpload", status: 404 });
  }, 240_000);

  it("copies a range of an object as a part (UploadPartCopy) and composes parts of odd sizes", async () => {
    const source = await seededBytes("mp-copy-src", 7 * MIB + 3);
    await s3.send(new PutObjectCommand({ Bucket: "mpu", Key: "copy/src", Body: source }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "mpu", Key: "copy/dst" }));
    const copied = await s3.send(
      new UploadPartCopyCommand({
        Bucket: "mpu",
        Key: "copy/dst",
        UploadId,
        PartNumber: 1,
        CopySource: "mpu/copy/src",
        CopySourceRange: `bytes=1000-${1000 + 5 * MIB + 17 - 1}`,
      }),
    );
    const part1 = source.subarray(1000, 1000 + 5 * MIB + 17);
    expect(copied.CopyPartResult?.ETag).toBe(`"${md5(part1).toString("hex")}"`);
    const part2 = Buffer.from("the last part may be small");
    const up2 = await s3.send(
      new UploadPartCommand({ Bucket: "mpu", Key: "copy/dst", UploadId, PartNumber: 2, Body: part2 }),
    );
    expect(
      await failure(
        s3.send(
          new UploadPartCopyCommand({
            Bucket: "mpu",
            Key: "copy/dst",
            UploadId,
            PartNumber: 3,
            CopySource: "mpu/copy/src",
            CopySourceRange: `bytes=0-${source.length}`,
          }),
        ),
      ),
    ).toEqual({ name: "InvalidArgument", status: 400 });
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "mpu",
        Key: "copy/dst",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: copied.CopyPartResult?.ETag as string },
            { PartNumber: 2, ETag: up2.ETag as string },
          ],
        },
      }),
    );
    expect(done.ETag).toBe(multipartEtag([part1, part2]));
    expect(await objectSha(s3, "copy/dst")).toBe(sha256(Buffer.concat([part1, part2])));
  }, 120_000);

  it("lists parts and uploads page by page (max-parts / part-number-marker, max-uploads / key and upload-id markers, prefix, delimiter)", async () => {
    const small = [Buffer.from("one"), Buffer.from("two"), Buffer.from("three")];
    const a1 = await uploadParts(s3, "list/a", small);
    const a2 = await uploadParts(s3, "list/a", []);
    const b = await uploadParts(s3, "list/b", []);
    const other = await uploadParts(s3, "other/c", []);

    const page1 = await s3.send(
      new ListPartsCommand({ Bucket: "mpu", Key: "list/a", UploadId: a1, MaxParts: 2 }),
    );
    expect(page1.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 3, `"${md5(small[0] as Buffer).toString("hex")}"`],
      [2, 3, `"${md5(small[1] as Buffer).toString("hex")}"`],
    ]);
    expect(page1.IsTruncated).toBe(true);
    const page2 = await s3.send(
      new ListPartsCommand({
        Bucket: "mpu",
        Key: "list/a",
        UploadId: a1,
        MaxParts: 2,
        PartNumberMarker: page1.NextPartNumberMarker,
      }),
    );
    expect(page2.Parts?.map((p) => p.PartNumber)).toEqual([3]);
    expect(page2.IsTruncated).toBe(false);

    const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu", Prefix: "list/" }));
    expect(all.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ["list/a", a1],
      ["list/a", a2],
      ["list/b", b],
    ]);
    const first = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: "mpu", Prefix: "list/", MaxUploads: 1 }),
    );
    expect(first.Uploads?.map((u) => u.UploadId)).toEqual([a1]);
    expect(first.IsTruncated).toBe(true);
    const rest = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: "mpu",
        Prefix: "list/",
        MaxUploads: 5,
        KeyMarker: first.NextKeyMarker,
        UploadIdMarker: first.NextUploadIdMarker,
      }),
    );
    expect(rest.Uploads?.map((u) => u.UploadId)).toEqual([a2, b]);
    expect(rest.IsTruncated).toBe(false);
    const afterA = await s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu", KeyMarker: "list/a" }));
    expect(afterA.Uploads?.map((u) => u.UploadId)).toEqual([b, other]);
    const folded = await s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu", Delimiter: "/" }));
    expect(folded.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["list/", "other/"]);
    const foldedFirst = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: "mpu", Delimiter: "/", MaxUploads: 1 }),
    );
    expect([foldedFirst.CommonPrefixes?.map((p) => p.Prefix), foldedFirst.IsTruncated]).toEqual([
      ["list/"],
      true,
    ]);
    const foldedRest = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: "mpu",
        Delimiter: "/",
        KeyMarker: foldedFirst.NextKeyMarker,
        UploadIdMarker: foldedFirst.NextUploadIdMarker,
      }),
    );
    expect(foldedRest.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["other/"]);

    for (const [key, id] of [
      ["list/a", a1],
      ["list/a", a2],
      ["list/b", b],
      ["other/c", other],
    ] as const)
      await s3.send(new AbortMultipartUploadCommand({ Bucket: "mpu", Key: key, UploadId: id }));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu" }))).Uploads ?? []).toEqual([]);
    expect(
      await failure(s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "list/a", UploadId: a1 }))),
    ).toEqual({
      name: "NoSuchUpload",
      status: 404,
    });
  }, 120_000);

  it("answers each error as S3 does: NoSuchUpload, InvalidPart, InvalidPartOrder, EntityTooSmall, EntityTooLarge, BadDigest, InvalidArgument, MalformedXML; one part is not readable alone (NotImplemented)", async () => {
    const p1 = seededSlice("mp-err", 0, 5 * MIB);
    const p2 = Buffer.from("tail");
    const id = await uploadParts(s3, "err/x", [p1, p2]);
    const etag = (b: Buffer) => `"${md5(b).toString("hex")}"`;
    const complete = (Parts: { PartNumber: number; ETag: string }[], UploadId = id) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: "mpu",
          Key: "err/x",
          UploadId,
          MultipartUpload: { Parts },
        }),
      );
    const bogus = "0".repeat(44);
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({ Bucket: "mpu", Key: "err/x", UploadId: bogus, PartNumber: 1, Body: "x" }),
        ),
      ),
    ).toEqual({ name: "NoSuchUpload", status: 404 });
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({
            Bucket: "mpu",
            Key: "err/other-key",
            UploadId: id,
            PartNumber: 1,
            Body: "x",
          }),
        ),
      ),
    ).toEqual({ name: "NoSuchUpload", status: 404 });
    expect(await failure(complete([{ PartNumber: 1, ETag: etag(p1) }], bogus))).toEqual({
      name: "NoSuchUpload",
      status: 404,
    });
    expect(
      await failure(
        complete([
          { PartNumber: 1, ETag: etag(p1) },
          { PartNumber: 2, ETag: etag(p1) },
        ]),
      ),
    ).toEqual({ name: "InvalidPart", status: 400 });
    expect(
      await failure(
        complete([
          { PartNumber: 1, ETag: etag(p1) },
          { PartNumber: 3, ETag: etag(p2) },
        ]),
      ),
    ).toEqual({ name: "InvalidPart", status: 400 });
    expect(
      await failure(
        complete([
          { PartNumber: 2, ETag: etag(p2) },
          { PartNumber: 1, ETag: etag(p1) },
        ]),
      ),
    ).toEqual({ name: "InvalidPartOrder", status: 400 });
    expect(
      await failure(
        complete([
          { PartNumber: 2, ETag: etag(p2) },
          { PartNumber: 3, ETag: etag(p2) },
        ]),
      ),
    ).toEqual({ name: "InvalidPart", status: 400 });
    expect(await failure(complete([]))).toEqual({ name: "MalformedXML", status: 400 });
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({
            Bucket: "mpu",
            Key: "err/x",
            UploadId: id,
            PartNumber: 3,
            Body: "tail",
            ContentMD5: md5(Buffer.from("not the tail")).toString("base64"),
          }),
        ),
      ),
    ).toEqual({ name: "BadDigest", status: 400 });
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({
            Bucket: "mpu",
            Key: "err/x",
            UploadId: id,
            PartNumber: 3,
            Body: "tail",
            ChecksumCRC32: "AAAAAA==",
          }),
        ),
      ),
    ).toEqual({ name: "BadDigest", status: 400 });
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({
            Bucket: "mpu",
            Key: "err/x",
            UploadId: id,
            PartNumber: 3,
            Body: Buffer.from("tail"),
            ContentLength: 5 * 1024 ** 3 + 1,
          }),
        ),
      ),
    ).toEqual({ name: "EntityTooLarge", status: 400 });
    // None of the bad parts was stored.
    const listed = await s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "err/x", UploadId: id }));
    expect(listed.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
    expect(
      await failure(
        s3.send(
          new UploadPartCommand({ Bucket: "mpu", Key: "err/x", UploadId: id, PartNumber: 10_001, Body: "x" }),
        ),
      ),
    ).toEqual({ name: "InvalidArgument", status: 400 });
    // One part of an object cannot be read on its own (the parts are not kept apart).
    expect(
      await failure(s3.send(new GetObjectCommand({ Bucket: "mpu", Key: "copy/dst", PartNumber: 1 }))),
    ).toEqual({ name: "NotImplemented", status: 501 });
    // A part under 5 MiB that is not the last: EntityTooSmall, and the upload is still there.
    const small = await uploadParts(s3, "err/small", [p2, p2]);
    expect(
      await failure(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: "mpu",
            Key: "err/small",
            UploadId: small,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: etag(p2) },
                { PartNumber: 2, ETag: etag(p2) },
              ],
            },
          }),
        ),
      ),
    ).toEqual({ name: "EntityTooSmall", status: 400 });
    // None of those stored an object; the good request still completes after them.
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: "mpu", Key: "err/x" })))).toMatchObject({
      status: 404,
    });
    const done = await complete([
      { PartNumber: 1, ETag: etag(p1) },
      { PartNumber: 2, ETag: etag(p2) },
    ]);
    expect(done.ETag).toBe(multipartEtag([p1, p2]));
    expect(await objectSha(s3, "err/x")).toBe(sha256(Buffer.concat([p1, p2])));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: "mpu", Key: "err/small", UploadId: small }));
    expect(
      await failure(
        s3.send(new AbortMultipartUploadCommand({ Bucket: "mpu", Key: "err/small", UploadId: small })),
      ),
    ).toEqual({ name: "NoSuchUpload", status: 404 });
  }, 120_000);

  it("the SDK's high-level Upload (@aws-sdk/lib-storage) sends a stream in parts and it reads back", async () => {
    const size = 17 * MIB + 5;
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: "mpu",
        Key: "lib/stream.bin",
        Body: Readable.from([await seededBytes("mp-lib", size)]),
      },
      partSize: 5 * MIB,
      queueSize: 2,
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
    expect(await objectSha(s3, "lib/stream.bin")).toBe(sha256(await seededBytes("mp-lib", size)));
  }, 120_000);
});

describe("a multipart upload and the gateway process", () => {
  it("survives a restart of dmfs s3 between parts: its state is in the cluster", async () => {
    const p1 = seededSlice("mp-restart", 0, 5 * MIB);
    const p2 = seededSlice("mp-restart", 5 * MIB, 10 * MIB);
    const p3 = Buffer.from("after the restart");
    const id = await uploadParts(s3, "restart/r", [p1, p2]);
    s3.destroy();
    await gateway.stop();
    gateway = await startS3Gateway(cluster, 1);
    s3 = gateway.client();
    const listed = await s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "restart/r", UploadId: id }));
    expect(listed.Parts?.map((p) => p.Size)).toEqual([5 * MIB, 5 * MIB]);
    const up3 = await s3.send(
      new UploadPartCommand({ Bucket: "mpu", Key: "restart/r", UploadId: id, PartNumber: 3, Body: p3 }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "mpu",
        Key: "restart/r",
        UploadId: id,
        MultipartUpload: {
          Parts: [...(listed.Parts ?? []), { PartNumber: 3, ETag: up3.ETag }].map((p) => ({
            PartNumber: p.PartNumber as number,
            ETag: p.ETag as string,
          })),
        },
      }),
    );
    expect(done.ETag).toBe(multipartEtag([p1, p2, p3]));
    expect(await objectSha(s3, "restart/r")).toBe(sha256(Buffer.concat([p1, p2, p3])));
  }, 120_000);

  it("aborts uploads older than --multipart-max-age, and garbage collection then reclaims their chunks", async () => {
    const before = await allChunkBytes();
    const id = await uploadParts(s3, "abandoned/a", [
      seededSlice("mp-abandoned", 0, 8 * MIB),
      seededSlice("mp-abandoned", 8 * MIB, 16 * MIB),
    ]);
    const during = await allChunkBytes();
    expect(during.every((d, i) => d > (before[i] as number) + 15 * MIB)).toBe(true);
    // A second gateway that gives uploads one second: it aborts this one at start or on a later pass.
    const collecting = await startS3Gateway(cluster, 0, ["--multipart-max-age", "1"]);
    const c = collecting.client();
    try {
      // The gateway says so once the pass has ended (the upload's parts deleted too).
      await waitFor(
        "the gateway to report the abandoned upload aborted",
        () => /aborted [1-9]\d* abandoned multipart upload/.test(collecting.output.join("\n")),
        60_000,
      );
      expect(
        await failure(c.send(new ListPartsCommand({ Bucket: "mpu", Key: "abandoned/a", UploadId: id }))),
      ).toEqual({ name: "NoSuchUpload", status: 404 });
    } finally {
      c.destroy();
      await collecting.stop();
    }
    await waitFor(
      "garbage collection to bring every node back to its size before the upload",
      async () => {
        const run = await cluster.runCli(["gc", "--now", "--json"]);
        if (run.code !== 0) return false;
        const sizes = await allChunkBytes();
        return sizes.every((s, i) => s <= (before[i] as number) * 1.01 + 64 * 1024);
      },
      60_000,
    );
  }, 180_000);
});

describe("FileClient.compose against real nodes", () => {
  let files: FileClient;
  beforeAll(async () => {
    // A fan-out of 4 makes trees of several levels from a few chunks of 64 KiB.
    files = await cluster.files(0, { chunkSize: 64 * 1024, indexFanOut: 4 });
  });

  it("composes parts whose trees have different depths (and an empty one) into one file that reads back whole and in ranges", async () => {
    const sizes = [3 * 64 * 1024 - 7, 0, 9 * 64 * 1024, 21 * 64 * 1024 + 1, 5];
    const bodies = await Promise.all(sizes.map((n, i) => seededBytes(`compose-${i}`, n)));
    const parts = [];
    for (const [i, body] of bodies.entries()) {
      const hashes: Buffer[] = [];
      const path = `compose/part-${i}`;
      const up = await files.upload(Readable.from(body.length ? [body] : []), path, 1, undefined, (h) =>
        hashes.push(Buffer.from(h)),
      );
      parts.push({ path, fileKey: up.key, chunkHashes: Buffer.concat(hashes) });
    }
    const whole = Buffer.concat(bodies);
    const composed = await files.compose(parts, "compose/whole", 2);
    expect(composed.size).toBe(whole.length);
    // A whole read recomputes the file key from the chunks and checks it against the entry's.
    const { out, bytes } = collector();
    await files.read("compose/whole", out);
    expect(sha256(bytes())).toBe(sha256(whole));
    for (const [offset, length] of [
      [3 * 64 * 1024 - 10, 20],
      [12 * 64 * 1024 - 3, 64 * 1024 + 9],
      [whole.length - 6, 6],
    ] as const) {
      const slice = collector();
      await files.read("compose/whole", slice.out, undefined, { offset, length });
      expect(slice.bytes().equals(whole.subarray(offset, offset + length))).toBe(true);
    }
    // Hashes that are not the part's are refused, and nothing is stored.
    const wrong = [{ ...(parts[0] as (typeof parts)[number]), chunkHashes: Buffer.alloc(32) }];
    await expect(files.compose(wrong, "compose/wrong", 3)).rejects.toMatchObject({ code: "E_CORRUPT" });
    await expect(files.resolve("compose/wrong")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  }, 120_000);
});

/** Bytes of chunk files on each node's disk, counted by walking its store. */
async function allChunkBytes(): Promise<number[]> {
  return Promise.all(
    [0, 1].map(async (i) => {
      const root = join(cluster.rootOf(i), "chunks");
      let total = 0;
      for (const name of await readdir(root, { recursive: true })) {
        const info = await stat(join(root, name)).catch(() => undefined);
        if (info?.isFile()) total += info.size;
      }
      return total;
    }),
  );
}
