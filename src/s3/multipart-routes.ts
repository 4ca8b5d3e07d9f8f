// The multipart requests of the S3 REST API (`?uploads`, `?uploadId`), routed here from server.ts:
// CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload,
// ListParts and ListMultipartUploads, answered from MultipartUploads (multipart.ts) as S3 documents them.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { OWNER } from "./configuration-reads.ts";
import { compareKeys } from "./listing.ts";
import type { MultipartUploads } from "./multipart.ts";
import { MAX_PART_NUMBER } from "./multipart-records.ts";
import type { ByteRange } from "./range.ts";
import { contentMd5Check, readSmallBody, requestBody } from "./request-body.ts";
import { S3Error } from "./s3-error.ts";
import { copySourceOf, header, notAllowed, sendEmpty, sendXml, userMetaOf } from "./server.ts";
import type { Authenticated, ReceivedRequest } from "./sigv4.ts";
import { parseCompleteRequest, xmlDocument } from "./xml.ts";

/** A Complete body names up to 10,000 parts in about 100 bytes each. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;
const MAX_LIST = 1000;
/** S3's largest part. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

export async function routeMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  r: ReceivedRequest,
  auth: Authenticated,
  bucket: string,
  key: string | undefined,
  uploads: MultipartUploads,
): Promise<void> {
  const q = (name: string) => r.query.get(name)?.[0];
  if (key === undefined) {
    if (r.method !== "GET" || !r.query.has("uploads")) throw notAllowed(r.method);
    return listUploads(res, r, bucket, uploads);
  }
  if (r.query.has("uploads")) {
    if (r.method !== "POST") throw notAllowed(r.method);
    await readSmallBody(req, auth.payload, 0);
    const uploadId = await uploads.create(bucket, key, {
      contentType: header(req, "content-type"),
      userMeta: userMetaOf(req),
    });
    return sendXml(
      res,
      200,
      xmlDocument("InitiateMultipartUploadResult", { Bucket: bucket, Key: key, UploadId: uploadId }),
    );
  }
  const uploadId = q("uploadId") ?? "";
  switch (r.method) {
    case "PUT": {
      const partNumber = partNumberOf(q("partNumber"));
      const copySource = header(req, "x-amz-copy-source");
      if (copySource !== undefined) {
        await readSmallBody(req, auth.payload, 0);
        const copied = await uploads.uploadPartCopy(
          bucket,
          key,
          uploadId,
          partNumber,
          copySourceOf(copySource),
          copyRangeOf(header(req, "x-amz-copy-source-range")),
        );
        return sendXml(
          res,
          200,
          xmlDocument("CopyPartResult", {
            LastModified: copied.lastModified.toISOString(),
            ETag: `"${copied.etag}"`,
          }),
        );
      }
      const declared = Number(header(req, "x-amz-decoded-content-length") ?? header(req, "content-length"));
      if (declared > MAX_PART_BYTES)
        throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
          ProposedSize: String(declared),
          MaxSizeAllowed: String(MAX_PART_BYTES),
        });
      const checkBody = contentMd5Check(header(req, "content-md5"));
      const { etag } = await uploads.uploadPart(
        bucket,
        key,
        uploadId,
        partNumber,
        requestBody(req, auth.payload),
        checkBody,
      );
      res.setHeader("ETag", `"${etag}"`);
      return sendEmpty(res, 200);
    }
    case "POST": {
      const check = contentMd5Check(header(req, "content-md5"));
      const body = await readSmallBody(req, auth.payload, MAX_COMPLETE_BODY);
      check?.(createHash("md5").update(body).digest());
      const { etag } = await uploads.complete(
        bucket,
        key,
        uploadId,
        parseCompleteRequest(body.toString("utf8")),
      );
      return sendXml(
        res,
        200,
        xmlDocument("CompleteMultipartUploadResult", {
          Location: `/${bucket}/${key}`,
          Bucket: bucket,
          Key: key,
          ETag: `"${etag}"`,
        }),
      );
    }
    case "DELETE":
      await uploads.abort(bucket, key, uploadId);
      return sendEmpty(res, 204);
    case "GET": {
      const marker = wholeNumber(q("part-number-marker") ?? "0", "part-number-marker");
      const maxParts = wholeNumber(q("max-parts") ?? String(MAX_LIST), "max-parts");
      const page = await uploads.listParts(bucket, key, uploadId, marker, Math.min(maxParts, MAX_LIST));
      const last = page.parts.at(-1);
      return sendXml(
        res,
        200,
        xmlDocument("ListPartsResult", {
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          Initiator: OWNER,
          Owner: OWNER,
          StorageClass: "STANDARD",
          PartNumberMarker: marker,
          ...(page.isTruncated && last ? { NextPartNumberMarker: last.partNumber } : {}),
          MaxParts: maxParts,
          IsTruncated: page.isTruncated,
          Part: page.parts.map((p) => ({
            PartNumber: p.partNumber,
            LastModified: p.lastModified.toISOString(),
            ETag: `"${p.etag}"`,
            Size: p.size,
          })),
        }),
      );
    }
    default:
      throw notAllowed(r.method);
  }
}

async function listUploads(
  res: ServerResponse,
  r: ReceivedRequest,
  bucket: string,
  uploads: MultipartUploads,
): Promise<void> {
  const q = (name: string) => r.query.get(name)?.[0];
  const prefix = q("prefix") ?? "";
  const delimiter = q("delimiter") ?? "";
  const keyMarker = q("key-marker") ?? "";
  const uploadIdMarker = keyMarker === "" ? "" : (q("upload-id-marker") ?? "");
  const maxUploads = wholeNumber(q("max-uploads") ?? String(MAX_LIST), "max-uploads");
  const page = await uploads.listUploads(bucket, {
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads: Math.min(maxUploads, MAX_LIST),
  });
  const last = page.uploads.at(-1);
  const lastPrefix = page.commonPrefixes.at(-1);
  // The page ends with an upload or a common prefix, whichever sorts last.
  const next =
    lastPrefix !== undefined && (last === undefined || compareKeys(lastPrefix, last.key) > 0)
      ? { NextKeyMarker: lastPrefix, NextUploadIdMarker: "" }
      : { NextKeyMarker: last?.key ?? "", NextUploadIdMarker: last?.uploadId ?? "" };
  sendXml(
    res,
    200,
    xmlDocument("ListMultipartUploadsResult", {
      Bucket: bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: uploadIdMarker,
      ...(page.isTruncated ? next : {}),
      Prefix: prefix,
      ...(delimiter ? { Delimiter: delimiter } : {}),
      MaxUploads: maxUploads,
      IsTruncated: page.isTruncated,
      Upload: page.uploads.map((u) => ({
        Key: u.key,
        UploadId: u.uploadId,
        Initiator: OWNER,
        Owner: OWNER,
        StorageClass: "STANDARD",
        Initiated: u.initiated.toISOString(),
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: p })),
    }),
  );
}

function partNumberOf(text: string | undefined): number {
  const n = text !== undefined && /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw new S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", {
      ArgumentName: "partNumber",
      ArgumentValue: String(text ?? "").slice(0, 20),
    });
  }
  return n;
}

function wholeNumber(text: string, name: string): number {
  if (!/^\d{1,9}$/.test(text))
    throw new S3Error("InvalidArgument", `${name} must be a non-negative integer`, { ArgumentName: name });
  return Number(text);
}

/** x-amz-copy-source-range `bytes=first-last`: both offsets, inclusive, within the source's size. */
function copyRangeOf(text: string | undefined): ((size: number) => ByteRange) | undefined {
  if (text === undefined) return undefined;
  const match = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(text.trim());
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (!match || start > end) {
    throw new S3Error(
      "InvalidArgument",
      "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
      { ArgumentName: "x-amz-copy-source-range", ArgumentValue: text.slice(0, 80) },
    );
  }
  return (size) => {
    if (end >= size) {
      throw new S3Error(
        "InvalidArgument",
        `Range specified is not valid for source object of size: ${size}`,
        {
          ArgumentName: "x-amz-copy-source-range",
        },
      );
    }
    return { start, end };
  };
}
