// The gateway's HTTP surface over a fake store (the real store is covered against real nodes in
// test/integration/s3-gateway.test.ts): the request cap, routes not served, and the shape of errors.
import { ListBucketsCommand, PutBucketAclCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import type { MultipartUploads } from "../../src/s3/multipart.ts";
import { S3Gateway } from "../../src/s3/server.ts";
import type { S3Store } from "../../src/s3/store.ts";

const KEY = { accessKeyId: "DMTESTKEY00000000000", secretAccessKey: "s".repeat(40) };
let gateway: S3Gateway | undefined;
let client: S3Client | undefined;

afterEach(async () => {
  client?.destroy();
  await gateway?.close();
});

async function serve(store: Partial<S3Store>, maxRequests = 32): Promise<string> {
  gateway = new S3Gateway({
    store: store as S3Store,
    uploads: {} as MultipartUploads,
    secretOf: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined),
    maxRequests,
  });
  const { port } = await gateway.listen("127.0.0.1", 0);
  const endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: KEY,
    maxAttempts: 1,
  });
  return endpoint;
}

describe("S3 gateway HTTP surface", () => {
  it("past --max-requests in flight, a request is told 503 SlowDown at once; once one finishes it is served", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const endpoint = await serve(
      {
        listBuckets: async () => {
          calls++;
          await held;
          return [];
        },
      },
      1,
    );
    const first = client?.send(new ListBucketsCommand({}));
    // The first request is in flight once the store has been asked (the SDK's first request loads its
    // code first, which under load outlasts a fixed count of turns: polled, with a deadline).
    for (const deadline = Date.now() + 10_000; calls === 0 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 5));
    expect(calls).toBe(1);
    const second = await fetch(`${endpoint}/`);
    expect(second.status).toBe(503);
    expect(await second.text()).toContain("<Code>SlowDown</Code>");
    release();
    expect((await first)?.Buckets).toEqual([]);
    expect((await client?.send(new ListBucketsCommand({})))?.Buckets).toEqual([]);
  });

  it("tells whether it worked since last asked (the periodic collection skips an idle gateway)", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    await serve({
      listBuckets: async () => {
        calls++;
        await held;
        return [];
      },
    });
    const g = gateway as S3Gateway;
    expect(g.workedSinceLastAsked()).toBe(false);
    const listing = client?.send(new ListBucketsCommand({}));
    // Until the store is asked (the SDK's first request loads its code first): polled, with a deadline.
    for (const deadline = Date.now() + 10_000; calls === 0 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 5));
    expect(calls).toBe(1);
    // Still running: busy at every tick until it ends.
    expect([g.workedSinceLastAsked(), g.workedSinceLastAsked()]).toEqual([true, true]);
    release();
    await listing;
    expect(g.workedSinceLastAsked()).toBe(false);
    await client?.send(new ListBucketsCommand({}));
    expect([g.workedSinceLastAsked(), g.workedSinceLastAsked()]).toEqual([true, false]);
  });

  it("answers sub-resources it does not serve with NotImplemented, and errors as S3 XML with a request id", async () => {
    const endpoint = await serve({});
    const res = await fetch(`${endpoint}/bucket?acl`);
    // Not signed: refused before routing.
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>[^<]+<\/Message><Resource>\/bucket<\/Resource><RequestId>[0-9A-F]{16}<\/RequestId><\/Error>$/,
    );
    expect(res.headers.get("x-amz-request-id")).toMatch(/^[0-9A-F]{16}$/);
    for (const command of [new PutBucketAclCommand({ Bucket: "bucket", ACL: "private" })]) {
      const err = (await client?.send(command as never).catch((e: unknown) => e)) as {
        name: string;
        $metadata: { httpStatusCode: number };
      };
      expect([err.name, err.$metadata.httpStatusCode]).toEqual(["NotImplemented", 501]);
    }
  });
});
