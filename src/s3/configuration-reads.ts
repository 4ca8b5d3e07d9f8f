// Reads of the bucket and object settings this gateway has no place for (ACLs, policies, CORS,
// lifecycle, tags, encryption...). Clients probe them - `s3cmd info` asks for six, file browsers ask for
// ACLs - and S3 has a truthful answer for each: the owner's full control, or the "no such configuration"
// error S3 gives for a bucket that never had one. Writes of these settings stay NotImplemented.
import { S3Error } from "./s3-error.ts";

export const OWNER = { ID: "dmfs", DisplayName: "dmfs" };

/** A document to send (its root element and body), or the error S3 answers when nothing is set. */
export type ConfigurationRead = { root: string; body: Record<string, unknown> } | S3Error;

const NONE_SET: Record<string, () => S3Error> = {
  policy: () => new S3Error("NoSuchBucketPolicy", "The bucket policy does not exist"),
  cors: () => new S3Error("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
  lifecycle: () => new S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
  website: () =>
    new S3Error("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
  tagging: () => new S3Error("NoSuchTagSet", "The TagSet does not exist"),
  encryption: () =>
    new S3Error(
      "ServerSideEncryptionConfigurationNotFoundError",
      "The server side encryption configuration was not found",
    ),
  "object-lock": () =>
    new S3Error(
      "ObjectLockConfigurationNotFoundError",
      "Object Lock configuration does not exist for this bucket",
    ),
  ownershipControls: () =>
    new S3Error("OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
  publicAccessBlock: () =>
    new S3Error(
      "NoSuchPublicAccessBlockConfiguration",
      "The public access block configuration was not found",
    ),
  replication: () =>
    new S3Error("ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
};

const EMPTY_DOCUMENTS: Record<string, { root: string; body: Record<string, unknown> }> = {
  requestPayment: { root: "RequestPaymentConfiguration", body: { Payer: "BucketOwner" } },
  logging: { root: "BucketLoggingStatus", body: {} },
  notification: { root: "NotificationConfiguration", body: {} },
  accelerate: { root: "AccelerateConfiguration", body: {} },
};

/** The owner (the holders of this gateway's access keys) has full control, and nobody else any. */
const OWNER_ONLY_ACL = {
  root: "AccessControlPolicy",
  body: {
    Owner: OWNER,
    AccessControlList: {
      Grant: {
        Grantee: {
          "@_xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
          "@_xsi:type": "CanonicalUser",
          ...OWNER,
        },
        Permission: "FULL_CONTROL",
      },
    },
  },
};

/**
 * What a GET with one of these sub-resources reads, for a bucket (`onObject` false) or an object;
 * undefined when the query names none of them (the request is another operation).
 */
export function configurationRead(
  query: Map<string, string[]>,
  onObject: boolean,
): ConfigurationRead | undefined {
  if (query.has("acl")) return OWNER_ONLY_ACL;
  if (onObject) return query.has("tagging") ? { root: "Tagging", body: { TagSet: {} } } : undefined;
  for (const [name, error] of Object.entries(NONE_SET)) if (query.has(name)) return error();
  for (const [name, document] of Object.entries(EMPTY_DOCUMENTS)) if (query.has(name)) return document;
  return undefined;
}
