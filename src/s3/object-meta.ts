// What S3 keeps about an object beyond its bytes - the MD5 ETag, Content-Type and x-amz-meta-* - and
// about a bucket beyond its files. The catalog's sealed meta ({ path, size, mtime, fileKey, manifestId })
// has no room for them, so they live in small DMFS files of their own under the reserved top-level
// folder `.s3/` (never a bucket: bucket names cannot start with a dot), sealed like any file:
//   .s3/buckets/<bucket>       an empty file: the bucket exists even while it holds no object
//   .s3/meta/<sha256(path)>    JSON { v: 1, fileKey, etag, contentType, userMeta } of the file at path
// The sidecar names the fileKey it describes: when the file was replaced by other means (`dmfs upload`
// over it), the sidecar no longer matches and the object is served with defaults.
import { createHash } from "node:crypto";
import { z } from "zod";

export const S3_FOLDER = ".s3";
export const DEFAULT_CONTENT_TYPE = "binary/octet-stream";
/** S3 allows 2 KiB of user metadata; a sidecar is refused when it exceeds this. */
export const MAX_SIDECAR_BYTES = 16 * 1024;

const SidecarSchema = z.object({
  v: z.literal(1),
  fileKey: z.string().regex(/^[0-9a-f]{64}$/),
  etag: z.string().regex(/^[0-9a-f]{32}(-\d+)?$/),
  contentType: z.string().max(1024),
  userMeta: z.record(z.string(), z.string()),
});

export type ObjectSidecar = z.infer<typeof SidecarSchema>;

export function bucketMarkerPath(bucket: string): string {
  return `${S3_FOLDER}/buckets/${bucket}`;
}

export function sidecarPath(objectPath: string): string {
  return `${S3_FOLDER}/meta/${createHash("sha256").update(objectPath).digest("hex")}`;
}

export function encodeSidecar(sidecar: ObjectSidecar): Buffer {
  return Buffer.from(JSON.stringify(sidecar));
}

/** The sidecar in `bytes`, or undefined when it is not one (a stray file, another version). */
export function decodeSidecar(bytes: Buffer): ObjectSidecar | undefined {
  try {
    const result = SidecarSchema.safeParse(JSON.parse(bytes.toString("utf8")));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ETag of a file written without S3 (no sidecar): not an MD5 - none was computed - so it takes the
 * multipart form, which clients know not to compare with an MD5 of the content; it changes with the file.
 */
export function fallbackEtag(fileKey: string): string {
  return `${fileKey.slice(0, 32)}-1`;
}
