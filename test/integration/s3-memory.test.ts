// The S3 gateway's memory stays bounded however many PUTs run at once: every request's upload shares
// the gateway's one budget of chunks in flight (src/cli/s3.ts UPLOAD_BUDGET_BYTES, 8 MiB, set by --upload-budget), instead of each
// having a window of its own. A real `dmfs s3` in front of one real node; 20 PutObjects of 16 MiB at
// once through the AWS SDK; the gateway's peak resident size (VmHWM, reset first) is read from /proc.
// With a window per request (8 chunks of 1 MiB, sealed and plaintext) these uploads grow the gateway by
// some 400 MiB: the second case shows it, with `--upload-budget` set past what they can use.
import { writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  processMemory,
  runCli,
  seededStream,
  sha256Of,
  TestCluster,
} from "../helpers/cluster-harness.ts";
import { type RunningGateway, startS3Gateway } from "../helpers/s3-gateway.ts";

const MiB = 1024 * 1024;
const PUTS = 20;
const OBJECT_BYTES = 16 * MiB;
/**
 * Growth allowed over the gateway's size after a warm-up PUT: the budget's 8 chunks in flight, each a
 * plaintext and its sealed copy (16 MiB); up to two chunks read ahead by each waiting request (40 MiB);
 * and dead buffers until V8's next collection, which external memory triggers every 64 MiB or so.
 */
const ALLOWED_GROWTH = 160 * MiB;

let cluster: TestCluster;
let gateway: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }], { replication: 1, writeQuorum: 1 });
  try {
    await cluster.startAll();
    gateway = await startS3Gateway(cluster, 0);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  // One attempt per request: a SlowDown or any failure shows as a failed PUT, never a silent retry.
  s3 = gateway.client({ maxAttempts: 1 });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gateway?.stop();
  await cluster?.stop();
});

function put(client: S3Client, key: string, bytes: number) {
  return client.send(
    new PutObjectCommand({ Bucket: "mem", Key: key, Body: seededStream(key, bytes), ContentLength: bytes }),
  );
}

/** The gateway's growth over its size after a warm-up PUT, while it takes PUTS concurrent PutObjects. */
async function growthDuringPuts(g: RunningGateway, client: S3Client, prefix: string): Promise<number> {
  await put(client, `${prefix}warm-up`, 10 * CHUNK_SIZE);
  const pid = g.proc.pid as number;
  const before = processMemory(pid, "VmRSS");
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  await Promise.all(
    Array.from({ length: PUTS }, (_, i) => put(client, `${prefix}object-${i}`, OBJECT_BYTES)),
  );
  const peak = processMemory(pid, "VmHWM");
  console.log(
    `gateway${prefix ? " with --upload-budget 1GiB" : ""}: ${Math.round(before / MiB)} MiB after the warm-up, peak ${Math.round(peak / MiB)} MiB during ${PUTS} PUTs of ${OBJECT_BYTES / MiB} MiB`,
  );
  return peak - before;
}

describe("S3 gateway memory", () => {
  it(`holds ${PUTS} concurrent PutObjects of ${OBJECT_BYTES / MiB} MiB within its upload budget`, async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "mem" }));
    const growth = await growthDuringPuts(gateway, s3, "");

    const sizes = await Promise.all(
      Array.from(
        { length: PUTS },
        async (_, i) =>
          (await s3.send(new HeadObjectCommand({ Bucket: "mem", Key: `object-${i}` }))).ContentLength,
      ),
    );
    expect(sizes).toEqual(Array(PUTS).fill(OBJECT_BYTES));
    const got = await s3.send(new GetObjectCommand({ Bucket: "mem", Key: "object-7" }));
    expect(await sha256Of(got.Body as Readable)).toBe(await sha256Of(seededStream("object-7", OBJECT_BYTES)));
    expect(growth).toBeLessThan(ALLOWED_GROWTH);
  }, 300_000);

  it("refuses an --upload-budget that is not a size with one sentence and exit 2", async () => {
    const r = await runCli(["s3", "--upload-budget", "lots", "--cluster", cluster.clusterDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--upload-budget must be a size in bytes, such as 8MiB, 64MiB or 1GiB, got "lots"',
    );
  });

  // The control: with --upload-budget large enough to leave every request its whole window, the same
  // PUTs grow the gateway well past the bound above - the budget is what holds it, and the flag sets it.
  it("grows past that bound when --upload-budget leaves each request its whole window", async () => {
    const open = await startS3Gateway(cluster, 0, ["--upload-budget", "1GiB"]);
    const client = open.client({ maxAttempts: 1 });
    try {
      expect(await growthDuringPuts(open, client, "open-")).toBeGreaterThan(ALLOWED_GROWTH);
    } finally {
      client.destroy();
      await open.stop();
    }
  }, 300_000);
});
