// The S3 REST API over HTTP: each request authenticated (src/s3/sigv4.ts), routed by method, bucket,
// key and sub-resource, and answered from the S3Store. Routing is by S3's own rules (sub-resources in the
// query decide the operation), which a path router does not express, so it is a switch here.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import { evaluateConditions } from "./conditions.ts";
import { type ConfigurationRead, configurationRead, OWNER } from "./configuration-reads.ts";
import { decodeContinuationToken, encodeContinuationToken, type ListPosition } from "./continuation-token.ts";
import type { ListPage } from "./listing.ts";
import type { MultipartUploads } from "./multipart.ts";
import { routeMultipart } from "./multipart-routes.ts";
import { parseRange } from "./range.ts";
import { contentMd5Check, readSmallBody, requestBody } from "./request-body.ts";
import { S3Error, toS3Error } from "./s3-error.ts";
import { type Authenticated, authenticate, type ReceivedRequest, type SecretLookup } from "./sigv4.ts";
import type { ObjectInfo, S3Store } from "./store.ts";
import { parseDeleteRequest, xmlDocument } from "./xml.ts";

/** Requests served at once; beyond this a client is told to slow down (503 SlowDown) and retries. */
export const DEFAULT_MAX_REQUESTS = 32;
const MAX_XML_BODY = 2 * 1024 * 1024;
const MAX_LIST_KEYS = 1000;
/** Sub-resources this gateway does not serve yet (beyond the GETs of configuration-reads.ts): answered NotImplemented rather than misread as another operation. */
const UNSUPPORTED = [
  "acl",
  "cors",
  "lifecycle",
  "policy",
  "tagging",
  "website",
  "encryption",
  "object-lock",
  "retention",
  "legal-hold",
  "notification",
  "replication",
  "logging",
  "accelerate",
  "requestPayment",
  "ownershipControls",
  "publicAccessBlock",
  "torrent",
  "restore",
  "select",
  "attributes",
];

export interface S3GatewayOptions {
  store: S3Store;
  uploads: MultipartUploads;
  secretOf: SecretLookup;
  maxRequests?: number;
  /** The clock requests are checked against (tests move it). */
  now?: () => Date;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
}

export class S3Gateway {
  readonly server: Server | TlsServer;
  #inFlight = 0;
  #started = 0;
  readonly #maxRequests: number;
  readonly #now: () => Date;

  constructor(private readonly options: S3GatewayOptions) {
    this.#maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.#now = options.now ?? (() => new Date());
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  }

  /** Whether a request ran since the last call (one is still running, or one started since). */
  workedSinceLastAsked(): boolean {
    const worked = this.#inFlight > 0 || this.#started > 0;
    this.#started = 0;
    return worked;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve({ host, port: typeof address === "object" && address ? address.port : port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    res.setHeader("x-amz-request-id", requestId);
    res.setHeader("Server", "DMFS");
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q === -1 ? url : url.slice(0, q);
    if (this.#inFlight >= this.#maxRequests) {
      this.sendError(
        req,
        res,
        new S3Error("SlowDown", "Please reduce your request rate."),
        rawPath,
        requestId,
      );
      return;
    }
    this.#inFlight++;
    this.#started++;
    try {
      const received: ReceivedRequest = {
        method: req.method ?? "GET",
        rawPath,
        query: parseQuery(q === -1 ? "" : url.slice(q + 1)),
        headers: req.headers,
      };
      const auth = await authenticate(received, this.options.secretOf, this.#now());
      await this.route(req, res, received, auth);
    } catch (err) {
      this.sendError(req, res, toS3Error(err), rawPath, requestId);
    } finally {
      this.#inFlight--;
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    r: ReceivedRequest,
    auth: Authenticated,
  ): Promise<void> {
    const { bucket, key } = splitPath(r.rawPath);
    const method = r.method;
    if (method === "GET" && bucket !== undefined) {
      const read = configurationRead(r.query, key !== undefined);
      if (read) return this.readConfiguration(res, read, bucket, key);
    }
    const unsupported = UNSUPPORTED.find((name) => r.query.has(name));
    if (unsupported)
      throw new S3Error(
        "NotImplemented",
        `The ${unsupported} sub-resource is not implemented by this gateway yet`,
      );
    const store = this.options.store;
    if (bucket !== undefined && (r.query.has("uploads") || r.query.has("uploadId")))
      return routeMultipart(req, res, r, auth, bucket, key, this.options.uploads);
    if (bucket === undefined) {
      if (method !== "GET") throw notAllowed(method);
      const buckets = await store.listBuckets();
      return sendXml(
        res,
        200,
        xmlDocument("ListAllMyBucketsResult", {
          Owner: OWNER,
          Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
        }),
      );
    }
    if (key === undefined) {
      switch (method) {
        case "PUT":
          await readSmallBody(req, auth.payload, MAX_XML_BODY);
          await store.createBucket(bucket);
          res.setHeader("Location", `/${bucket}`);
          return sendEmpty(res, 200);
        case "HEAD":
          await store.requireBucket(bucket);
          return sendEmpty(res, 200);
        case "DELETE":
          await store.deleteBucket(bucket);
          return sendEmpty(res, 204);
        case "POST":
          if (!r.query.has("delete")) throw notAllowed(method);
          return this.deleteObjects(req, res, bucket, auth);
        case "GET":
          if (r.query.has("location")) {
            await store.requireBucket(bucket);
            return sendXml(res, 200, xmlDocument("LocationConstraint", {}));
          }
          if (r.query.has("versioning")) {
            await store.requireBucket(bucket);
            return sendXml(res, 200, xmlDocument("VersioningConfiguration", {}));
          }
          return this.listObjects(res, bucket, r.query, r.query.has("versions"));
        default:
          throw notAllowed(method);
      }
    }
    // An unversioned bucket has one version of each object, whose id is "null" (as S3 says for a bucket
    // that never had versioning), so that id is accepted and no other.
    const versionId = r.query.get("versionId")?.[0];
    if (versionId !== undefined && versionId !== "null") {
      throw new S3Error("InvalidArgument", "Invalid version id specified", { ArgumentName: "versionId" });
    }
    switch (method) {
      case "PUT": {
        const copySource = header(req, "x-amz-copy-source");
        if (copySource !== undefined) return this.copyObject(req, res, copySource, bucket, key, auth);
        const checkBody = contentMd5Check(header(req, "content-md5"));
        const { etag } = await store.putObject(bucket, key, requestBody(req, auth.payload), {
          contentType: header(req, "content-type"),
          userMeta: userMetaOf(req),
          ...(checkBody ? { checkBody } : {}),
        });
        res.setHeader("ETag", `"${etag}"`);
        return sendEmpty(res, 200);
      }
      case "HEAD":
      case "GET": {
        // The parts of a multipart object are not kept apart: answering with the whole object would
        // hand a client asking for one part the wrong bytes.
        if (r.query.has("partNumber"))
          throw new S3Error("NotImplemented", "GET and HEAD of one part (partNumber) are not implemented");
        const info = await store.headObject(bucket, key);
        const outcome = evaluateConditions(req.headers, info);
        if (outcome === "precondition-failed") {
          throw new S3Error(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            {
              Condition: req.headers["if-match"] !== undefined ? "If-Match" : "If-Unmodified-Since",
            },
          );
        }
        if (outcome === "not-modified") {
          res.setHeader("ETag", `"${info.etag}"`);
          res.setHeader("Last-Modified", info.lastModified.toUTCString());
          res.writeHead(304);
          res.end();
          return;
        }
        const range = method === "GET" ? parseRange(header(req, "range"), info.size) : undefined;
        setObjectHeaders(res, info);
        if (method === "HEAD") return sendEmpty(res, 200, info.size);
        if (range) {
          res.setHeader("Content-Range", `bytes ${range.start}-${range.end}/${info.size}`);
          res.writeHead(206, { "Content-Length": range.end - range.start + 1 });
        } else {
          res.writeHead(200, { "Content-Length": info.size });
        }
        if (info.size === 0) {
          res.end();
          return;
        }
        try {
          await store.getObject(bucket, info, range, res);
          res.end();
        } catch (err) {
          // The status line is gone: cutting the body short is how the client learns of the failure.
          res.destroy(err instanceof Error ? err : undefined);
        }
        return;
      }
      case "DELETE":
        await store.deleteObject(bucket, key);
        return sendEmpty(res, 204);
      default:
        throw notAllowed(method);
    }
  }

  /** A read of a setting the gateway keeps none of, for a bucket or object that must exist. */
  private async readConfiguration(
    res: ServerResponse,
    read: ConfigurationRead,
    bucket: string,
    key: string | undefined,
  ): Promise<void> {
    if (key === undefined) await this.options.store.requireBucket(bucket);
    else await this.options.store.headObject(bucket, key);
    if (read instanceof S3Error) throw read;
    sendXml(res, 200, xmlDocument(read.root, read.body));
  }

  private async listObjects(
    res: ServerResponse,
    bucket: string,
    query: Map<string, string[]>,
    versions: boolean,
  ): Promise<void> {
    const q = (name: string) => query.get(name)?.[0];
    const v2 = !versions && q("list-type") === "2";
    const prefix = q("prefix") ?? "";
    const delimiter = q("delimiter") ?? "";
    const maxKeysText = q("max-keys");
    const maxKeys = maxKeysText === undefined ? MAX_LIST_KEYS : Number(maxKeysText);
    if (!Number.isInteger(maxKeys) || maxKeys < 0)
      throw new S3Error("InvalidArgument", "max-keys must be a non-negative integer", {
        ArgumentName: "max-keys",
      });
    const encodingType = q("encoding-type");
    if (encodingType !== undefined && encodingType !== "url")
      throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", {
        ArgumentName: "encoding-type",
      });
    const enc = encodingType === "url" ? encodeKey : (s: string) => s;
    const token = v2 ? q("continuation-token") : undefined;
    const startAfter = v2 ? q("start-after") : q(versions ? "key-marker" : "marker");
    let after: ListPosition | undefined;
    if (token !== undefined) after = decodeContinuationToken(token);
    // A V1 marker that ends in the delimiter is the common prefix the last page ended with: skip its keys.
    else if (startAfter)
      after = { after: startAfter, prefix: !v2 && delimiter !== "" && startAfter.endsWith(delimiter) };
    const page: ListPage<ObjectInfo> = await this.options.store.listObjects(bucket, {
      prefix,
      delimiter,
      after,
      maxKeys: Math.min(maxKeys, MAX_LIST_KEYS),
    });
    const body: Record<string, unknown> = {
      Name: bucket,
      Prefix: enc(prefix),
      ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
      MaxKeys: maxKeys,
      ...(encodingType ? { EncodingType: encodingType } : {}),
      IsTruncated: page.isTruncated,
    };
    if (v2) {
      body.KeyCount = page.objects.length + page.commonPrefixes.length;
      if (token !== undefined) body.ContinuationToken = token;
      if (startAfter) body.StartAfter = enc(startAfter);
      if (page.isTruncated && page.next) body.NextContinuationToken = encodeContinuationToken(page.next);
    } else if (versions) {
      body.KeyMarker = enc(startAfter ?? "");
      body.VersionIdMarker = q("version-id-marker") ?? "";
      if (page.isTruncated && page.next) {
        body.NextKeyMarker = enc(page.next.after);
        body.NextVersionIdMarker = "null";
      }
    } else {
      body.Marker = enc(startAfter ?? "");
      if (page.isTruncated && page.next) body.NextMarker = enc(page.next.after);
    }
    const entries = page.objects.map((o) => ({
      Key: enc(o.key),
      ...(versions ? { VersionId: "null", IsLatest: true } : {}),
      LastModified: o.lastModified.toISOString(),
      ETag: `"${o.etag}"`,
      Size: o.size,
      StorageClass: "STANDARD",
      ...(v2 ? {} : { Owner: OWNER }),
    }));
    if (versions) body.Version = entries;
    else body.Contents = entries;
    body.CommonPrefixes = page.commonPrefixes.map((p) => ({ Prefix: enc(p) }));
    sendXml(res, 200, xmlDocument(versions ? "ListVersionsResult" : "ListBucketResult", body));
  }

  private async copyObject(
    req: IncomingMessage,
    res: ServerResponse,
    copySource: string,
    bucket: string,
    key: string,
    auth: Authenticated,
  ): Promise<void> {
    await readSmallBody(req, auth.payload, 0);
    const source = copySourceOf(copySource);
    const directive = header(req, "x-amz-metadata-directive") ?? "COPY";
    if (directive !== "COPY" && directive !== "REPLACE") {
      throw new S3Error("InvalidArgument", "Unknown metadata directive.", {
        ArgumentName: "x-amz-metadata-directive",
      });
    }
    const replace =
      directive === "REPLACE"
        ? { contentType: header(req, "content-type"), userMeta: userMetaOf(req) }
        : undefined;
    const copied = await this.options.store.copyObject(source, { bucket, key }, replace);
    sendXml(
      res,
      200,
      xmlDocument("CopyObjectResult", {
        LastModified: copied.lastModified.toISOString(),
        ETag: `"${copied.etag}"`,
      }),
    );
  }

  private async deleteObjects(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    auth: Authenticated,
  ): Promise<void> {
    const check = contentMd5Check(header(req, "content-md5"));
    const body = await readSmallBody(req, auth.payload, MAX_XML_BODY);
    check?.(createHash("md5").update(body).digest());
    const { keys, quiet } = parseDeleteRequest(body.toString("utf8"));
    const store = this.options.store;
    await store.requireBucket(bucket);
    const deleted: { Key: string }[] = [];
    const errors: { Key: string; Code: string; Message: string }[] = [];
    for (const key of keys) {
      try {
        await store.deleteObject(bucket, key);
        if (!quiet) deleted.push({ Key: key });
      } catch (err) {
        const e = toS3Error(err);
        errors.push({ Key: key, Code: e.code, Message: e.message });
      }
    }
    sendXml(res, 200, xmlDocument("DeleteResult", { Deleted: deleted, Error: errors }));
  }

  private sendError(
    req: IncomingMessage,
    res: ServerResponse,
    err: S3Error,
    resource: string,
    requestId: string,
  ): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body we did not read would be taken for the next request on this connection.
    if (!req.complete) res.setHeader("Connection", "close");
    req.resume();
    if (req.method === "HEAD") {
      sendEmpty(res, err.status);
      return;
    }
    sendXml(
      res,
      err.status,
      xmlDocument(
        "Error",
        { Code: err.code, Message: err.message, ...err.details, Resource: resource, RequestId: requestId },
        false,
      ),
    );
  }
}

export function sendXml(res: ServerResponse, status: number, xml: string): void {
  const body = Buffer.from(xml);
  res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": body.length });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number, length = 0): void {
  res.writeHead(status, { "Content-Length": length });
  res.end();
}

function setObjectHeaders(res: ServerResponse, info: ObjectInfo): void {
  res.setHeader("ETag", `"${info.etag}"`);
  res.setHeader("Last-Modified", info.lastModified.toUTCString());
  res.setHeader("Content-Type", info.contentType);
  res.setHeader("Accept-Ranges", "bytes");
  for (const [name, value] of Object.entries(info.userMeta)) res.setHeader(`x-amz-meta-${name}`, value);
}

export function userMetaOf(req: IncomingMessage): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith("x-amz-meta-") && value !== undefined)
      meta[name.slice(11)] = Array.isArray(value) ? value.join(",") : value;
  }
  return meta;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** x-amz-copy-source: `bucket/key` or `/bucket/key`, percent-encoded. */
export function copySourceOf(copySource: string): { bucket: string; key: string } {
  if (copySource.includes("?")) {
    throw new S3Error(
      "NotImplemented",
      "copying a version (x-amz-copy-source with ?versionId) is not supported",
    );
  }
  const source = splitPath(copySource.startsWith("/") ? copySource : `/${copySource}`);
  if (source.bucket === undefined || source.key === undefined) {
    throw new S3Error(
      "InvalidArgument",
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
      {
        ArgumentName: "x-amz-copy-source",
      },
    );
  }
  return { bucket: source.bucket, key: source.key };
}

/** Path-style addressing: `/bucket` and `/bucket/key...`, the key percent-decoded. */
export function splitPath(rawPath: string): { bucket: string | undefined; key: string | undefined } {
  const path = rawPath.startsWith("/") ? rawPath.slice(1) : rawPath;
  if (path === "") return { bucket: undefined, key: undefined };
  const slash = path.indexOf("/");
  const bucket = decode(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 || slash === path.length - 1 ? undefined : decode(path.slice(slash + 1));
  return { bucket, key };
}

export function parseQuery(query: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  if (query === "") return params;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? "" : decode(part.slice(eq + 1));
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  return params;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error("InvalidArgument", `${text.slice(0, 80)} is not valid percent-encoding`);
  }
}

/** encoding-type=url: what S3 sends (and clients decode) for keys that XML 1.0 cannot carry. */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, "/");
}

export function notAllowed(method: string): S3Error {
  return new S3Error(
    "MethodNotAllowed",
    `The specified method ${method} is not allowed against this resource.`,
  );
}
