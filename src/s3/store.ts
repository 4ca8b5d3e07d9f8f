// The S3 gateway's one view of the cluster: buckets and objects over the FileClient. A bucket is a
// top-level folder, an object's key the rest of its path, so `dmfs ls` and S3 see the same files.
// Everything the gateway asks of the cluster goes through here.
import { PassThrough, Writable } from "node:stream";
import type { FileClient } from "../client/file-client.ts";
import { pathProblem } from "../crypto/catalog-crypto.ts";
import { isDmfsError } from "../errors.ts";
import { isBucketName } from "./bucket-name.ts";
import type { ClusterFile, ListFiles } from "./cluster-listing.ts";
import { compareKeys, type ListPage, type ListQuery, listPage } from "./listing.ts";
import { md5Checked } from "./md5-body.ts";
import {
  bucketMarkerPath,
  DEFAULT_CONTENT_TYPE,
  decodeSidecar,
  encodeSidecar,
  fallbackEtag,
  MAX_SIDECAR_BYTES,
  type ObjectSidecar,
  S3_FOLDER,
  sidecarPath,
} from "./object-meta.ts";
import type { ByteRange } from "./range.ts";
import { S3Error } from "./s3-error.ts";

export interface BucketInfo {
  name: string;
  created: Date;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag: string;
  contentType: string;
  userMeta: Record<string, string>;
  /** The DMFS file key of the bytes this describes. */
  fileKey: string;
}

export interface PutOptions {
  contentType: string | undefined;
  userMeta: Record<string, string>;
  /** Throws (before the body ends) when the bytes are not what the request promised; gets their MD5. */
  checkBody?: (md5: Buffer) => void;
}

/** How many sidecars one listing page reads at once. */
const SIDECAR_READS = 8;

export class S3Store {
  /**
   * `files` gives the FileClient to use now (src/s3/cluster-session.ts reconnects behind it);
   * `listFiles` lists by path prefix (src/s3/cluster-listing.ts).
   */
  constructor(
    private readonly files: () => Promise<FileClient>,
    private readonly listFiles: ListFiles,
  ) {}

  async listBuckets(): Promise<BucketInfo[]> {
    const files = await this.listFiles("");
    const marked = new Map<string, number>();
    // A folder with files but no marker (made with `dmfs upload`) dates from its oldest file.
    const folders = new Map<string, number>();
    const markers = `${S3_FOLDER}/buckets/`;
    for (const f of files) {
      if (f.path.startsWith(markers)) {
        const name = f.path.slice(markers.length);
        if (isBucketName(name)) marked.set(name, f.mtime);
        continue;
      }
      const name = f.path.slice(0, Math.max(f.path.indexOf("/"), 0));
      if (isBucketName(name)) folders.set(name, Math.min(folders.get(name) ?? f.mtime, f.mtime));
    }
    return [...new Map([...folders, ...marked])]
      .map(([name, created]) => ({ name, created: new Date(created) }))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  async bucketExists(bucket: string): Promise<boolean> {
    if (await this.exists(bucketMarkerPath(bucket))) return true;
    return (await this.filesIn(bucket)).length > 0;
  }

  async createBucket(bucket: string): Promise<void> {
    if (!isBucketName(bucket)) throw invalidBucket(bucket);
    if (await this.bucketExists(bucket)) {
      throw new S3Error(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        {
          BucketName: bucket,
        },
      );
    }
    await (await this.files()).upload(emptyBody(), bucketMarkerPath(bucket), Date.now());
  }

  async deleteBucket(bucket: string): Promise<void> {
    if ((await this.filesIn(bucket)).length > 0) {
      throw new S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", {
        BucketName: bucket,
      });
    }
    try {
      await (await this.files()).delete(bucketMarkerPath(bucket));
    } catch (err) {
      if (isDmfsError(err, "E_NOT_FOUND")) throw noSuchBucket(bucket);
      throw err;
    }
  }

  /** Stores the object from `body`, streamed; its sidecar follows once the bytes are committed. */
  async putObject(
    bucket: string,
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions,
  ): Promise<{ etag: string }> {
    const path = objectPath(bucket, key);
    await this.requireBucket(bucket);
    // The MD5 is known once the body ended, and checked before the upload sees that end: an object
    // whose bytes fail the check is never committed.
    const hashed = md5Checked(body, options.checkBody);
    const result = await (await this.files()).upload(hashed.bytes, path, Date.now());
    const etag = hashed.md5().toString("hex");
    await this.writeSidecar(path, result.key, etag, options);
    return { etag };
  }

  /** Writes the sidecar of the object at `path` (after the object's own commit). */
  async writeSidecar(
    path: string,
    fileKey: string,
    etag: string,
    options: { contentType: string | undefined; userMeta: Record<string, string> },
  ): Promise<void> {
    const sidecar: ObjectSidecar = {
      v: 1,
      fileKey,
      etag,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      userMeta: options.userMeta,
    };
    const bytes = encodeSidecar(sidecar);
    if (bytes.length > MAX_SIDECAR_BYTES) {
      throw new S3Error("InvalidArgument", "the object's metadata is larger than 16 KiB");
    }
    await this.writeSmallFile(sidecarPath(path), bytes);
  }

  /** Stores `bytes` as the file at `path` (the gateway's own small files under `.s3/`). */
  async writeSmallFile(path: string, bytes: Buffer): Promise<void> {
    await (await this.files()).upload(oneBuffer(bytes), path, Date.now());
  }

  /**
   * The bytes of the file at `path`, or undefined when there is none or it is larger than `limit` (then it
   * is not one of the gateway's small files).
   */
  async readSmallFile(path: string, limit: number): Promise<Buffer | undefined> {
    const pieces: Buffer[] = [];
    let total = 0;
    const out = new Writable({
      write(piece: Buffer, _encoding, done) {
        total += piece.length;
        if (total <= limit) pieces.push(Buffer.from(piece));
        done();
      },
    });
    try {
      await (await this.files()).read(path, out);
    } catch (err) {
      if (isDmfsError(err, "E_NOT_FOUND")) return undefined;
      throw err;
    }
    return total > limit ? undefined : Buffer.concat(pieces);
  }

  /** Deletes the file at `path`; one already gone is no error. */
  async deleteFile(path: string): Promise<void> {
    try {
      await (await this.files()).delete(path);
    } catch (err) {
      if (!isDmfsError(err, "E_NOT_FOUND")) throw err;
    }
  }

  /**
   * Copies an object by reading it and storing it again (the bytes pass through this process, sealed
   * anew under the same data key, so identical chunks deduplicate on the nodes). The copy's body ends
   * only once the source verified, so a source that fails is never committed as the copy. Metadata is
   * the source's unless `replace` gives new metadata (x-amz-metadata-directive: REPLACE).
   */
  async copyObject(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    replace: { contentType: string | undefined; userMeta: Record<string, string> } | undefined,
  ): Promise<{ etag: string; lastModified: Date }> {
    const info = await this.headObject(source.bucket, source.key);
    await this.requireBucket(target.bucket);
    const pass = new PassThrough();
    const reading = this.getObject(source.bucket, info, undefined, pass).then(
      () => pass.end(),
      (err: unknown) => pass.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    const metadata = replace ?? { contentType: info.contentType, userMeta: info.userMeta };
    try {
      const { etag } = await this.putObject(target.bucket, target.key, pass, metadata);
      return { etag, lastModified: new Date() };
    } finally {
      pass.destroy();
      await reading;
    }
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    const path = objectPath(bucket, key);
    let checked: Awaited<ReturnType<FileClient["resolve"]>>;
    try {
      checked = await (await this.files()).resolve(path);
    } catch (err) {
      if (!isDmfsError(err, "E_NOT_FOUND")) throw err;
      if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
      throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: key });
    }
    const { entry, meta } = checked;
    return this.describe(key, path, entry.fileKey as string, meta.size, meta.mtime);
  }

  /**
   * Writes the object's bytes, or the `range` of them, to `out`; rejects when the file changed since
   * `info` was taken or does not verify (the caller then cuts the response short). A range fetches only
   * the chunks that cover it.
   */
  async getObject(
    bucket: string,
    info: ObjectInfo,
    range: ByteRange | undefined,
    out: Writable,
  ): Promise<void> {
    const path = objectPath(bucket, info.key);
    const slice = range ?? { start: 0, end: info.size - 1 };
    const { entry } = await (await this.files()).read(path, out, undefined, {
      offset: slice.start,
      length: slice.end - slice.start + 1,
    });
    if (entry.fileKey !== info.fileKey) {
      throw new S3Error("InternalError", "the object changed while it was being read");
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const path = objectPath(bucket, key);
    for (const p of [path, sidecarPath(path)]) {
      try {
        await (await this.files()).delete(p);
      } catch (err) {
        // S3 answers a delete of a missing key with success.
        if (!isDmfsError(err, "E_NOT_FOUND")) throw err;
      }
    }
  }

  /**
   * One page of the bucket's objects, from the bucket's files in S3 order (cluster-listing.ts); the
   * page's ETags come from the objects' sidecars.
   */
  async listObjects(bucket: string, query: ListQuery): Promise<ListPage<ObjectInfo>> {
    const listed = await this.filesIn(bucket);
    if (listed.length === 0 && !(await this.exists(bucketMarkerPath(bucket)))) throw noSuchBucket(bucket);
    // Keys keep their paths' order: the bucket's prefix is common to all.
    const keyed = listed.map((f) => ({ key: f.path.slice(bucket.length + 1), file: f }));
    const page = listPage(keyed, query);
    const objects: ObjectInfo[] = new Array(page.objects.length);
    for (let i = 0; i < page.objects.length; i += SIDECAR_READS) {
      await Promise.all(
        page.objects.slice(i, i + SIDECAR_READS).map(async ({ key, file }, j) => {
          objects[i + j] = await this.describe(key, file.path, file.key, file.size, file.mtime);
        }),
      );
    }
    return { ...page, objects };
  }

  async requireBucket(bucket: string): Promise<void> {
    if (!isBucketName(bucket)) throw invalidBucket(bucket);
    if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
  }

  private filesIn(bucket: string): Promise<ClusterFile[]> {
    return this.listFiles(`${bucket}/`);
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await (await this.files()).resolve(path);
      return true;
    } catch (err) {
      if (isDmfsError(err, "E_NOT_FOUND")) return false;
      throw err;
    }
  }

  private async describe(
    key: string,
    path: string,
    fileKey: string,
    size: number,
    mtime: number,
  ): Promise<ObjectInfo> {
    const sidecar = await this.readSidecar(path);
    const current = sidecar?.fileKey === fileKey ? sidecar : undefined;
    return {
      key,
      size,
      lastModified: new Date(mtime),
      etag: current?.etag ?? fallbackEtag(fileKey),
      contentType: current?.contentType ?? DEFAULT_CONTENT_TYPE,
      userMeta: current?.userMeta ?? {},
      fileKey,
    };
  }

  private async readSidecar(path: string): Promise<ObjectSidecar | undefined> {
    const bytes = await this.readSmallFile(sidecarPath(path), MAX_SIDECAR_BYTES);
    return bytes && decodeSidecar(bytes);
  }
}

/** The DMFS path of an object; S3's own key limits plus the catalog's path rules. */
export function objectPath(bucket: string, key: string): string {
  if (key === "") throw new S3Error("InvalidArgument", "An object key must not be empty");
  const path = `${bucket}/${key}`;
  const problem = pathProblem(path);
  if (problem)
    throw new S3Error("KeyTooLongError", `The key cannot be stored as a DMFS path: ${problem}`, {
      Key: key.slice(0, 200),
    });
  return path;
}

function invalidBucket(bucket: string): S3Error {
  return new S3Error("InvalidBucketName", "The specified bucket is not valid.", {
    BucketName: bucket.slice(0, 100),
  });
}

export function noSuchBucket(bucket: string): S3Error {
  return new S3Error("NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket });
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

async function* oneBuffer(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}
