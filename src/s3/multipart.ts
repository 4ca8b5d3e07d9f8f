// S3 multipart uploads over the cluster. Each part is stored as it arrives, as a DMFS file of its own
// (multipart-records.ts says where), so an upload survives a restart of the gateway and its parts' chunks
// are held against garbage collection by their catalog entries. Complete composes the object from the
// parts' manifest trees (FileClient.compose) without moving their data, then drops the parts' entries:
// the chunks are now the object's. An upload that is aborted - or abandoned, by `collectAbandoned` - loses
// its entries, and garbage collection reclaims what only it held.
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import type { ComposePart, FileClient } from "../client/file-client.ts";
import type { ClusterFile, ListFiles } from "./cluster-listing.ts";
import { compareKeys } from "./listing.ts";
import { md5Checked } from "./md5-body.ts";
import {
  decodePartRecord,
  decodeUploadRecord,
  encodeRecord,
  isUploadId,
  MAX_UPLOAD_RECORD_BYTES,
  newUploadId,
  PARTS_FOLDER,
  parsePartPath,
  partPath,
  partRecordPath,
  partsFolder,
  UPLOADS_FOLDER,
  type UploadRecord,
  uploadRecordPath,
} from "./multipart-records.ts";
import { DEFAULT_CONTENT_TYPE } from "./object-meta.ts";
import type { ByteRange } from "./range.ts";
import { S3Error } from "./s3-error.ts";
import { objectPath, type S3Store } from "./store.ts";
import type { CompletedPart } from "./xml.ts";

/** S3's smallest part, but for the last one. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** A part record holds 32 bytes of hash per chunk (base64): 5 GiB in 64 KiB chunks is 3.5 MB. */
const MAX_PART_RECORD_BYTES = 8 * 1024 * 1024;
/** Small files of the gateway read or deleted at once. */
const AT_ONCE = 8;

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface UploadsQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  uploadIdMarker: string;
  maxUploads: number;
}

export interface UploadsPage {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
}

export interface PartsPage {
  record: UploadRecord;
  parts: PartInfo[];
  isTruncated: boolean;
}

export class MultipartUploads {
  constructor(
    private readonly files: () => Promise<FileClient>,
    private readonly listFiles: ListFiles,
    private readonly store: S3Store,
  ) {}

  async create(
    bucket: string,
    key: string,
    meta: { contentType: string | undefined; userMeta: Record<string, string> },
  ): Promise<string> {
    objectPath(bucket, key);
    await this.store.requireBucket(bucket);
    const uploadId = newUploadId(Date.now());
    const record: UploadRecord = {
      v: 1,
      key,
      contentType: meta.contentType ?? DEFAULT_CONTENT_TYPE,
      userMeta: meta.userMeta,
    };
    const bytes = encodeRecord(record);
    if (bytes.length > MAX_UPLOAD_RECORD_BYTES)
      throw new S3Error("InvalidArgument", "the object's metadata is larger than 16 KiB");
    await this.store.writeSmallFile(uploadRecordPath(bucket, uploadId), bytes);
    return uploadId;
  }

  /** Stores part `partNumber` from `body` (streamed, MD5 checked by `checkBody`); its ETag. */
  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Uint8Array>,
    checkBody?: (md5: Buffer) => void,
  ): Promise<{ etag: string }> {
    await this.requireUpload(bucket, key, uploadId);
    return this.storePart(uploadId, partNumber, body, checkBody);
  }

  /**
   * Stores part `partNumber` from the bytes of an object (or the `range` of them), read and stored again
   * like CopyObject: the part's body ends only once the source verified.
   */
  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: { bucket: string; key: string },
    range: ((size: number) => ByteRange) | undefined,
  ): Promise<{ etag: string; lastModified: Date }> {
    await this.requireUpload(bucket, key, uploadId);
    const info = await this.store.headObject(source.bucket, source.key);
    const slice = range?.(info.size);
    const pass = new PassThrough();
    const reading = (
      info.size === 0 ? Promise.resolve() : this.store.getObject(source.bucket, info, slice, pass)
    ).then(
      () => pass.end(),
      (err: unknown) => pass.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    try {
      const { etag } = await this.storePart(uploadId, partNumber, pass);
      return { etag, lastModified: new Date() };
    } finally {
      pass.destroy();
      await reading;
    }
  }

  /**
   * Makes the object from the parts named, in the order named (ascending part numbers, each with the ETag
   * it was given, every one but the last at least 5 MiB), then forgets the upload and all its parts.
   */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    requested: readonly CompletedPart[],
  ): Promise<{ etag: string }> {
    const record = await this.requireUpload(bucket, key, uploadId);
    for (let i = 1; i < requested.length; i++) {
      if ((requested[i] as CompletedPart).partNumber <= (requested[i - 1] as CompletedPart).partNumber) {
        throw new S3Error(
          "InvalidPartOrder",
          "The list of parts was not in ascending order. Parts must be ordered by part number.",
          { UploadId: uploadId },
        );
      }
    }
    const stored = await this.storedParts(uploadId);
    const parts: ComposePart[] = new Array(requested.length);
    const md5s: Buffer[] = new Array(requested.length);
    await inBatches(requested, async (want, i) => {
      const file = stored.get(want.partNumber);
      const invalid = () =>
        new S3Error(
          "InvalidPart",
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          { UploadId: uploadId, PartNumber: String(want.partNumber), ETag: want.etag },
        );
      if (!file) throw invalid();
      const part = await this.readPartRecord(uploadId, want.partNumber);
      if (!part || part.fileKey !== file.key || part.etag !== want.etag.toLowerCase()) throw invalid();
      if (i < requested.length - 1 && file.size < MIN_PART_BYTES) {
        throw new S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", {
          ProposedSize: String(file.size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(want.partNumber),
          ETag: want.etag,
        });
      }
      parts[i] = {
        path: partPath(uploadId, want.partNumber),
        fileKey: part.fileKey,
        chunkHashes: Buffer.from(part.hashes, "base64"),
      };
      md5s[i] = Buffer.from(part.etag, "hex");
    });
    const etag = `${createHash("md5").update(Buffer.concat(md5s)).digest("hex")}-${parts.length}`;
    const path = objectPath(bucket, key);
    const composed = await (await this.files()).compose(parts, path, Date.now());
    await this.store.writeSidecar(path, composed.key, etag, record);
    await this.discard(bucket, uploadId);
    return { etag };
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.requireUpload(bucket, key, uploadId);
    await this.discard(bucket, uploadId);
  }

  /** The upload's parts (those whose bytes and record are both stored), after `marker`, at most `maxParts`. */
  async listParts(
    bucket: string,
    key: string,
    uploadId: string,
    marker: number,
    maxParts: number,
  ): Promise<PartsPage> {
    const record = await this.requireUpload(bucket, key, uploadId);
    const listed = await this.listFiles(partsFolder(uploadId));
    const recorded = new Map<number, ClusterFile>();
    const data = new Map<number, ClusterFile>();
    for (const f of listed) {
      const parsed = parsePartPath(f.path, uploadId);
      if (parsed) (parsed.record ? recorded : data).set(parsed.partNumber, f);
    }
    const numbers = [...data.keys()].filter((n) => n > marker && recorded.has(n)).sort((a, b) => a - b);
    const page = numbers.slice(0, maxParts);
    const parts: (PartInfo | undefined)[] = new Array(page.length);
    await inBatches(page, async (n, i) => {
      const part = await this.readPartRecord(uploadId, n);
      const file = data.get(n) as ClusterFile;
      // A record of other bytes: the part is being uploaded again; it is listed once that is done.
      if (!part || part.fileKey !== file.key) return;
      const when = (recorded.get(n) as ClusterFile).mtime;
      parts[i] = { partNumber: n, size: file.size, etag: part.etag, lastModified: new Date(when) };
    });
    return {
      record,
      parts: parts.filter((p): p is PartInfo => p !== undefined),
      isTruncated: numbers.length > page.length,
    };
  }

  /** The bucket's uploads in progress in S3's order (key, then initiation), one page of them. */
  async listUploads(bucket: string, query: UploadsQuery): Promise<UploadsPage> {
    await this.store.requireBucket(bucket);
    const uploads = await this.uploadsIn(bucket);
    const { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads } = query;
    const page: UploadsPage = { uploads: [], commonPrefixes: [], isTruncated: false };
    let count = 0;
    for (const u of uploads) {
      if (!u.key.startsWith(prefix)) continue;
      if (keyMarker !== "") {
        // A marker ending in the delimiter is the common prefix the last page ended with: its keys went there.
        if (delimiter !== "" && keyMarker.endsWith(delimiter) && u.key.startsWith(keyMarker)) continue;
        const order = compareKeys(u.key, keyMarker);
        // With an upload-id marker, later uploads of the marker's key still follow; without one, none.
        if (order < 0 || (order === 0 && (uploadIdMarker === "" || u.uploadId <= uploadIdMarker))) continue;
      }
      const cut = delimiter === "" ? -1 : u.key.indexOf(delimiter, prefix.length);
      const common = cut === -1 ? undefined : u.key.slice(0, cut + delimiter.length);
      if (common !== undefined && page.commonPrefixes.at(-1) === common) continue;
      if (count === maxUploads) {
        page.isTruncated = true;
        break;
      }
      if (common === undefined) page.uploads.push(u);
      else page.commonPrefixes.push(common);
      count++;
    }
    return page;
  }

  /**
   * Aborts uploads initiated more than `maxAgeMs` ago (at most `limit` per call) and deletes parts left
   * without an upload (a part that arrived while its upload was being completed or aborted). Parts are
   * listed before uploads: an upload whose parts are listed was created before them, so it is listed
   * then unless it has ended.
   */
  async collectAbandoned(maxAgeMs: number, limit: number): Promise<{ aborted: number; orphans: number }> {
    const partFiles = await this.listFiles(PARTS_FOLDER);
    const records = await this.listFiles(UPLOADS_FOLDER);
    const cutoff = Date.now() - maxAgeMs;
    const known = new Set<string>();
    let aborted = 0;
    for (const r of records) {
      const [bucket, uploadId] = r.path.slice(UPLOADS_FOLDER.length).split("/");
      if (bucket === undefined || uploadId === undefined || !isUploadId(uploadId)) continue;
      known.add(uploadId);
      if (r.mtime < cutoff && aborted < limit) {
        await this.discard(bucket, uploadId);
        aborted++;
      }
    }
    const orphans = partFiles.filter((f) => {
      const uploadId = f.path.slice(PARTS_FOLDER.length).split("/")[0] as string;
      return isUploadId(uploadId) && !known.has(uploadId);
    });
    await inBatches(orphans, (f) => this.store.deleteFile(f.path));
    return { aborted, orphans: orphans.length };
  }

  private async requireUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    await this.store.requireBucket(bucket);
    const missing = new S3Error(
      "NoSuchUpload",
      "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      { UploadId: uploadId.slice(0, 100) },
    );
    if (!isUploadId(uploadId)) throw missing;
    const bytes = await this.store.readSmallFile(uploadRecordPath(bucket, uploadId), MAX_UPLOAD_RECORD_BYTES);
    const record = bytes && decodeUploadRecord(bytes);
    if (!record || record.key !== key) throw missing;
    return record;
  }

  private async storePart(
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Uint8Array>,
    checkBody?: (md5: Buffer) => void,
  ): Promise<{ etag: string }> {
    const hashed = md5Checked(body, checkBody);
    const hashes: Buffer[] = [];
    const stored = await (await this.files()).upload(
      hashed.bytes,
      partPath(uploadId, partNumber),
      Date.now(),
      undefined,
      (h) => hashes.push(Buffer.from(h)),
    );
    const etag = hashed.md5().toString("hex");
    await this.store.writeSmallFile(
      partRecordPath(uploadId, partNumber),
      encodeRecord({ v: 1, fileKey: stored.key, etag, hashes: Buffer.concat(hashes).toString("base64") }),
    );
    return { etag };
  }

  private async readPartRecord(uploadId: string, partNumber: number) {
    const bytes = await this.store.readSmallFile(partRecordPath(uploadId, partNumber), MAX_PART_RECORD_BYTES);
    return bytes && decodePartRecord(bytes);
  }

  /** The upload's stored part bytes by part number (their records aside). */
  private async storedParts(uploadId: string): Promise<Map<number, ClusterFile>> {
    const parts = new Map<number, ClusterFile>();
    for (const f of await this.listFiles(partsFolder(uploadId))) {
      const parsed = parsePartPath(f.path, uploadId);
      if (parsed && !parsed.record) parts.set(parsed.partNumber, f);
    }
    return parts;
  }

  /** Every upload of the bucket, from its records, in S3's order. */
  private async uploadsIn(bucket: string): Promise<UploadInfo[]> {
    const folder = `${UPLOADS_FOLDER}${bucket}/`;
    const listed = (await this.listFiles(folder)).filter((f) => isUploadId(f.path.slice(folder.length)));
    const uploads: (UploadInfo | undefined)[] = new Array(listed.length);
    await inBatches(listed, async (f, i) => {
      const bytes = await this.store.readSmallFile(f.path, MAX_UPLOAD_RECORD_BYTES);
      const record = bytes && decodeUploadRecord(bytes);
      if (record)
        uploads[i] = { key: record.key, uploadId: f.path.slice(folder.length), initiated: new Date(f.mtime) };
    });
    return uploads
      .filter((u): u is UploadInfo => u !== undefined)
      .sort(
        (a, b) =>
          compareKeys(a.key, b.key) || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0),
      );
  }

  /** Forgets an upload: its record first (it no longer exists), then every part stored for it. */
  private async discard(bucket: string, uploadId: string): Promise<void> {
    await this.store.deleteFile(uploadRecordPath(bucket, uploadId));
    await inBatches(await this.listFiles(partsFolder(uploadId)), (f) => this.store.deleteFile(f.path));
  }
}

/** Runs `work` over `items`, AT_ONCE at a time; the first failure rejects (after its batch). */
async function inBatches<T>(
  items: readonly T[],
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += AT_ONCE) {
    await Promise.all(items.slice(i, i + AT_ONCE).map((item, j) => work(item, i + j)));
  }
}
