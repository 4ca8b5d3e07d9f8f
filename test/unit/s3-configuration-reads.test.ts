// Reads of the settings the gateway keeps none of, as the AWS SDK parses them: the owner's full control
// for ACLs, S3's "no such configuration" errors, empty documents; NoSuchBucket / NoSuchKey when the
// bucket or object is missing; and writes of those settings still NotImplemented.
import {
  GetBucketAccelerateConfigurationCommand,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLoggingCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketReplicationCommand,
  GetBucketRequestPaymentCommand,
  GetBucketTaggingCommand,
  GetBucketWebsiteCommand,
  GetObjectAclCommand,
  GetObjectLockConfigurationCommand,
  GetObjectTaggingCommand,
  GetPublicAccessBlockCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MultipartUploads } from "../../src/s3/multipart.ts";
import { S3Error } from "../../src/s3/s3-error.ts";
import { S3Gateway } from "../../src/s3/server.ts";
import { noSuchBucket, type ObjectInfo, type S3Store } from "../../src/s3/store.ts";

const KEY = { accessKeyId: "DMTESTKEY00000000000", secretAccessKey: "s".repeat(40) };
let gateway: S3Gateway;
let s3: S3Client;

/** One bucket "b" holding one object "k". */
const store: Partial<S3Store> = {
  requireBucket: async (bucket) => {
    if (bucket !== "b") throw noSuchBucket(bucket);
  },
  headObject: async (bucket, key) => {
    if (bucket !== "b") throw noSuchBucket(bucket);
    if (key !== "k") throw new S3Error("NoSuchKey", "The specified key does not exist.");
    return { key } as ObjectInfo;
  },
};

beforeAll(async () => {
  gateway = new S3Gateway({
    store: store as S3Store,
    uploads: {} as MultipartUploads,
    secretOf: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined),
  });
  const { port } = await gateway.listen("127.0.0.1", 0);
  s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: KEY,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  s3.destroy();
  await gateway.close();
});

async function failure(p: Promise<unknown>): Promise<[string, number | undefined]> {
  const err = (await p.then(
    () => ({ name: "resolved", $metadata: {} }),
    (e: unknown) => e,
  )) as { name: string; $metadata: { httpStatusCode?: number } };
  return [err.name, err.$metadata.httpStatusCode];
}

describe("reads of settings the gateway keeps none of", () => {
  it("an ACL is the owner's full control, for a bucket and for an object", async () => {
    for (const acl of [
      await s3.send(new GetBucketAclCommand({ Bucket: "b" })),
      await s3.send(new GetObjectAclCommand({ Bucket: "b", Key: "k" })),
    ]) {
      expect(acl.Owner).toEqual({ ID: "dmfs", DisplayName: "dmfs" });
      expect(acl.Grants).toEqual([
        {
          Grantee: { Type: "CanonicalUser", ID: "dmfs", DisplayName: "dmfs" },
          Permission: "FULL_CONTROL",
        },
      ]);
    }
  });

  it("a configuration never set is S3's error for it (404), or an empty document", async () => {
    const b = { Bucket: "b" };
    expect(await failure(s3.send(new GetBucketPolicyCommand(b)))).toEqual(["NoSuchBucketPolicy", 404]);
    expect(await failure(s3.send(new GetBucketCorsCommand(b)))).toEqual(["NoSuchCORSConfiguration", 404]);
    expect(await failure(s3.send(new GetBucketLifecycleConfigurationCommand(b)))).toEqual([
      "NoSuchLifecycleConfiguration",
      404,
    ]);
    expect(await failure(s3.send(new GetBucketWebsiteCommand(b)))).toEqual([
      "NoSuchWebsiteConfiguration",
      404,
    ]);
    expect(await failure(s3.send(new GetBucketTaggingCommand(b)))).toEqual(["NoSuchTagSet", 404]);
    expect(await failure(s3.send(new GetBucketEncryptionCommand(b)))).toEqual([
      "ServerSideEncryptionConfigurationNotFoundError",
      404,
    ]);
    expect(await failure(s3.send(new GetObjectLockConfigurationCommand(b)))).toEqual([
      "ObjectLockConfigurationNotFoundError",
      404,
    ]);
    expect(await failure(s3.send(new GetBucketOwnershipControlsCommand(b)))).toEqual([
      "OwnershipControlsNotFoundError",
      404,
    ]);
    expect(await failure(s3.send(new GetPublicAccessBlockCommand(b)))).toEqual([
      "NoSuchPublicAccessBlockConfiguration",
      404,
    ]);
    expect(await failure(s3.send(new GetBucketReplicationCommand(b)))).toEqual([
      "ReplicationConfigurationNotFoundError",
      404,
    ]);

    expect((await s3.send(new GetBucketRequestPaymentCommand(b))).Payer).toBe("BucketOwner");
    expect((await s3.send(new GetBucketLoggingCommand(b))).LoggingEnabled).toBeUndefined();
    expect((await s3.send(new GetBucketAccelerateConfigurationCommand(b))).Status).toBeUndefined();
    const notification = await s3.send(new GetBucketNotificationConfigurationCommand(b));
    expect(notification.TopicConfigurations ?? []).toEqual([]);
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: "b", Key: "k" }))).TagSet ?? []).toEqual([]);
  });

  it("a missing bucket or object is NoSuchBucket or NoSuchKey, as for any other request", async () => {
    expect(await failure(s3.send(new GetBucketAclCommand({ Bucket: "gone" })))).toEqual([
      "NoSuchBucket",
      404,
    ]);
    expect(await failure(s3.send(new GetBucketPolicyCommand({ Bucket: "gone" })))).toEqual([
      "NoSuchBucket",
      404,
    ]);
    expect(await failure(s3.send(new GetObjectAclCommand({ Bucket: "b", Key: "gone" })))).toEqual([
      "NoSuchKey",
      404,
    ]);
  });

  it("setting them is still NotImplemented", async () => {
    expect(await failure(s3.send(new PutBucketAclCommand({ Bucket: "b", ACL: "public-read" })))).toEqual([
      "NotImplemented",
      501,
    ]);
    expect(await failure(s3.send(new PutBucketPolicyCommand({ Bucket: "b", Policy: "{}" })))).toEqual([
      "NotImplemented",
      501,
    ]);
  });
});
