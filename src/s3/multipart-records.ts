// Where a multipart upload lives in the cluster, so that it outlives the gateway process: small DMFS files
// under the reserved `.s3/` folder (object-meta.ts), sealed like any file.
//   .s3/uploads/<bucket>/<uploadId>        JSON { v: 1, key, contentType, userMeta }: the upload exists;
//                                          its catalog time is when it was initiated
//   .s3/parts/<uploadId>/<nnnnn>           the part's bytes, a DMFS file: its chunks and manifest tree are
//                                          held against garbage collection by this entry
//   .s3/parts/<uploadId>/<nnnnn>.part      JSON { v: 1, fileKey, etag, hashes }: the part's MD5 and the
//                                          plaintext hashes of its chunks (base64, 32 bytes each), from
//                                          which Complete makes the object's file key without reading it
// A part record names the file key of the bytes it describes, so a part uploaded again under the same
// number (or a record left from an earlier attempt) is never paired with the wrong bytes.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { S3_FOLDER } from "./object-meta.ts";

/** S3's part numbers: 1 to 10,000. */
export const MAX_PART_NUMBER = 10_000;
/** Records are small; a larger file under these names is not one of ours. */
export const MAX_UPLOAD_RECORD_BYTES = 16 * 1024;

const UploadRecordSchema = z.strictObject({
  v: z.literal(1),
  key: z.string().min(1).max(1024),
  contentType: z.string().max(1024),
  userMeta: z.record(z.string(), z.string()),
});
export type UploadRecord = z.infer<typeof UploadRecordSchema>;

const PartRecordSchema = z.strictObject({
  v: z.literal(1),
  fileKey: z.string().regex(/^[0-9a-f]{64}$/),
  etag: z.string().regex(/^[0-9a-f]{32}$/),
  hashes: z.base64(),
});
export type PartRecord = z.infer<typeof PartRecordSchema>;

/**
 * A new upload id: the time in hex first, so ids sort by initiation (the order ListMultipartUploads gives
 * uploads of one key), then 16 random bytes.
 */
export function newUploadId(now: number): string {
  return `${now.toString(16).padStart(12, "0")}${randomBytes(16).toString("hex")}`;
}

export function isUploadId(text: string): boolean {
  return /^[0-9a-f]{44}$/.test(text);
}

export const UPLOADS_FOLDER = `${S3_FOLDER}/uploads/`;
export const PARTS_FOLDER = `${S3_FOLDER}/parts/`;

export function uploadRecordPath(bucket: string, uploadId: string): string {
  return `${UPLOADS_FOLDER}${bucket}/${uploadId}`;
}

export function partsFolder(uploadId: string): string {
  return `${PARTS_FOLDER}${uploadId}/`;
}

export function partPath(uploadId: string, partNumber: number): string {
  return `${partsFolder(uploadId)}${String(partNumber).padStart(5, "0")}`;
}

export function partRecordPath(uploadId: string, partNumber: number): string {
  return `${partPath(uploadId, partNumber)}.part`;
}

/** The part number a path under an upload's parts folder names, and whether it is the record. */
export function parsePartPath(
  path: string,
  uploadId: string,
): { partNumber: number; record: boolean } | undefined {
  const match = /^(\d{5})(\.part)?$/.exec(path.slice(partsFolder(uploadId).length));
  if (!path.startsWith(partsFolder(uploadId)) || !match) return undefined;
  const partNumber = Number(match[1]);
  if (partNumber < 1 || partNumber > MAX_PART_NUMBER) return undefined;
  return { partNumber, record: match[2] !== undefined };
}

export function encodeRecord(record: UploadRecord | PartRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeUploadRecord(bytes: Buffer): UploadRecord | undefined {
  return parseJson(bytes, UploadRecordSchema);
}

export function decodePartRecord(bytes: Buffer): PartRecord | undefined {
  return parseJson(bytes, PartRecordSchema);
}

function parseJson<T>(bytes: Buffer, schema: z.ZodType<T>): T | undefined {
  try {
    const result = schema.safeParse(JSON.parse(bytes.toString("utf8")));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
