// AWS Signature Version 4 on the receiving side. The expected signature is computed by the AWS SDK's own
// signer (@smithy/signature-v4) from the request as received - only the headers the client signed, the
// path in its canonical encoding - and compared in constant time. What is ours: reading the
// Authorization header or the presigned query, the time checks, and the payload mode the body is
// verified under (src/s3/request-body.ts).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import { S3Error } from "./s3-error.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
export const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
export const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** S3 refuses a request signed more than 15 minutes away from its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** How the body of an authenticated request is to be checked. */
export type PayloadMode =
  | { kind: "unsigned" }
  | { kind: "sha256"; sha256: string }
  | { kind: "chunked-signed"; verifyChunk: (signature: string, dataSha256: string) => Promise<void> }
  | { kind: "chunked-unsigned-trailer" };

export interface Authenticated {
  accessKeyId: string;
  payload: PayloadMode;
}

export interface ReceivedRequest {
  method: string;
  /** The path as sent, still percent-encoded, without the query. */
  rawPath: string;
  /** The query, decoded; a name without `=` has the value "". */
  query: Map<string, string[]>;
  headers: IncomingHttpHeaders;
}

/** The secret of an access key id, or undefined when there is no such key. */
export type SecretLookup = (accessKeyId: string) => string | undefined | Promise<string | undefined>;

interface Credential {
  accessKeyId: string;
  shortDate: string;
  region: string;
}

/** Node's crypto as the ChecksumConstructor the signer wants (a keyed instance is an HMAC). */
class Sha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", asKey(secret));
  }
  update(data: Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function asKey(secret: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof secret === "string") return secret;
  if (ArrayBuffer.isView(secret)) return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  return new Uint8Array(secret);
}

export async function authenticate(
  req: ReceivedRequest,
  secretOf: SecretLookup,
  now: Date,
): Promise<Authenticated> {
  if (req.query.has("X-Amz-Algorithm")) return authenticatePresigned(req, secretOf, now);
  const authorization = header(req.headers, "authorization");
  if (authorization === undefined) {
    throw new S3Error("AccessDenied", "Anonymous access is not allowed: sign requests with AWS Signature V4");
  }
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw new S3Error("InvalidRequest", "Only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported");
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature) {
    throw new S3Error(
      "AuthorizationHeaderMalformed",
      "The authorization header needs Credential, SignedHeaders and Signature",
    );
  }
  const amzDate = header(req.headers, "x-amz-date");
  if (amzDate === undefined) {
    throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  }
  const signingDate = parseAmzDate(amzDate, "AuthorizationHeaderMalformed");
  const cred = parseCredential(credential, "AuthorizationHeaderMalformed");
  const secret = await secretOf(cred.accessKeyId);
  if (secret === undefined) throw unknownKey(cred.accessKeyId);
  checkScopeDate(cred, amzDate, "AuthorizationHeaderMalformed");
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new S3Error(
      "RequestTimeTooSkewed",
      "The difference between the request time and the server's time is too large",
      {
        RequestTime: amzDate,
        ServerTime: now.toISOString(),
        MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
      },
    );
  }
  const payloadHash = header(req.headers, "x-amz-content-sha256") ?? EMPTY_SHA256;
  const names = signedHeaders.split(";");
  const signer = signerFor(cred, secret);
  const signed = await signer.sign(
    {
      ...signable(req),
      headers: { ...signedHeaderValues(req, names), "x-amz-content-sha256": payloadHash },
    },
    { signingDate, signableHeaders: new Set(names) },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1] ?? "";
  if (!sameSignature(expected, signature)) throw mismatch();
  return {
    accessKeyId: cred.accessKeyId,
    payload: payloadMode(payloadHash, signer, cred, amzDate, signature, signingDate),
  };
}

async function authenticatePresigned(
  req: ReceivedRequest,
  secretOf: SecretLookup,
  now: Date,
): Promise<Authenticated> {
  const q = (name: string) => req.query.get(name)?.[0];
  const algorithm = q("X-Amz-Algorithm");
  const credential = q("X-Amz-Credential");
  const amzDate = q("X-Amz-Date");
  const expires = q("X-Amz-Expires");
  const signedHeaders = q("X-Amz-SignedHeaders");
  const signature = q("X-Amz-Signature");
  if (algorithm !== ALGORITHM) {
    throw new S3Error("AuthorizationQueryParametersError", `X-Amz-Algorithm must be ${ALGORITHM}`);
  }
  if (!credential || !amzDate || !expires || !signedHeaders || !signature) {
    throw new S3Error(
      "AuthorizationQueryParametersError",
      "A presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature",
    );
  }
  const cred = parseCredential(credential, "AuthorizationQueryParametersError");
  const signingDate = parseAmzDate(amzDate, "AuthorizationQueryParametersError");
  const expiresIn = Number(expires);
  if (!/^\d{1,7}$/.test(expires) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
    throw new S3Error(
      "AuthorizationQueryParametersError",
      "X-Amz-Expires must be a number of seconds from 1 to 604800",
    );
  }
  const secret = await secretOf(cred.accessKeyId);
  if (secret === undefined) throw unknownKey(cred.accessKeyId);
  checkScopeDate(cred, amzDate, "AuthorizationQueryParametersError");
  if (signingDate.getTime() - now.getTime() > MAX_CLOCK_SKEW_MS) {
    throw new S3Error("AccessDenied", "Request is not valid yet");
  }
  if (now.getTime() > signingDate.getTime() + expiresIn * 1000) {
    throw new S3Error("AccessDenied", "Request has expired", {
      Expires: new Date(signingDate.getTime() + expiresIn * 1000).toISOString(),
      ServerTime: now.toISOString(),
    });
  }
  const names = signedHeaders.split(";");
  const query = new Map(req.query);
  for (const name of [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
  ]) {
    query.delete(name);
  }
  const contentSha256 = header(req.headers, "x-amz-content-sha256") ?? UNSIGNED_PAYLOAD;
  const presigned = await signerFor(cred, secret).presign(
    {
      ...signable({ ...req, query }),
      headers: { ...signedHeaderValues(req, names), "x-amz-content-sha256": contentSha256 },
    },
    {
      signingDate,
      expiresIn,
      signableHeaders: new Set(names),
      unsignableHeaders: new Set(["x-amz-content-sha256"]),
      unhoistableHeaders: new Set([...names, "x-amz-content-sha256"]),
    },
  );
  const expected = String(presigned.query?.["X-Amz-Signature"] ?? "");
  if (!sameSignature(expected, signature)) throw mismatch();
  return { accessKeyId: cred.accessKeyId, payload: { kind: "unsigned" } };
}

function payloadMode(
  payloadHash: string,
  signer: SignatureV4,
  cred: Credential,
  amzDate: string,
  seedSignature: string,
  signingDate: Date,
): PayloadMode {
  if (payloadHash === UNSIGNED_PAYLOAD) return { kind: "unsigned" };
  if (/^[0-9a-f]{64}$/.test(payloadHash)) return { kind: "sha256", sha256: payloadHash };
  if (payloadHash === STREAMING_UNSIGNED_TRAILER) return { kind: "chunked-unsigned-trailer" };
  if (payloadHash === STREAMING_SIGNED) {
    // Each chunk's signature chains on the previous one, starting from the request's own.
    const scope = `${cred.shortDate}/${cred.region}/s3/aws4_request`;
    let previous = seedSignature;
    return {
      kind: "chunked-signed",
      verifyChunk: async (signature, dataSha256) => {
        const toSign = ["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, EMPTY_SHA256, dataSha256].join(
          "\n",
        );
        const expected = await signer.sign(toSign, { signingDate });
        if (!sameSignature(expected, signature)) {
          throw new S3Error(
            "SignatureDoesNotMatch",
            "The chunk signature we calculated does not match the signature you provided",
          );
        }
        previous = signature;
      },
    };
  }
  if (payloadHash === STREAMING_SIGNED_TRAILER) {
    throw new S3Error(
      "NotImplemented",
      `x-amz-content-sha256 ${payloadHash} is not supported yet; use ${STREAMING_SIGNED}`,
    );
  }
  throw new S3Error(
    "InvalidArgument",
    `x-amz-content-sha256 must be a SHA-256 or a payload mode, not ${payloadHash.slice(0, 80)}`,
  );
}

function signerFor(cred: Credential, secret: string): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: secret },
    region: cred.region,
    service: "s3",
    sha256: Sha256,
    // S3 signs the path encoded once, as we pass it (canonicalPath), not re-encoded.
    uriEscapePath: false,
    applyChecksum: false,
  });
}

function signable(req: ReceivedRequest) {
  const host = header(req.headers, "host") ?? "";
  const query: Record<string, string | string[]> = {};
  for (const [name, values] of req.query) query[name] = values.length === 1 ? (values[0] as string) : values;
  return { method: req.method, protocol: "http:", hostname: host, path: canonicalPath(req.rawPath), query };
}

/** The headers the client listed in SignedHeaders, with the values it sent; a listed header it did not send fails. */
function signedHeaderValues(req: ReceivedRequest, names: string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = header(req.headers, name);
    if (value === undefined) throw mismatch();
    values[name] = value;
  }
  return values;
}

/**
 * SigV4's canonical URI for S3: each path segment decoded and then encoded once (RFC 3986 unreserved
 * characters kept), whatever encoding the client chose on the wire.
 */
export function canonicalPath(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        decoded = segment;
      }
      return encodeURIComponent(decoded).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      );
    })
    .join("/");
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function parseCredential(
  credential: string,
  code: "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError",
): Credential {
  const parts = credential.split("/");
  if (
    parts.length !== 5 ||
    parts[3] !== "s3" ||
    parts[4] !== "aws4_request" ||
    !/^\d{8}$/.test(parts[1] as string)
  ) {
    throw new S3Error(
      code,
      `The credential ${credential.slice(0, 120)} is not ACCESS_KEY/YYYYMMDD/REGION/s3/aws4_request`,
    );
  }
  return { accessKeyId: parts[0] as string, shortDate: parts[1] as string, region: parts[2] as string };
}

function checkScopeDate(
  cred: Credential,
  amzDate: string,
  code: "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError",
) {
  if (!amzDate.startsWith(cred.shortDate)) {
    throw new S3Error(
      code,
      `The credential date ${cred.shortDate} is not the date of the request ${amzDate}`,
    );
  }
}

export function parseAmzDate(
  value: string,
  code: "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError" = "AuthorizationHeaderMalformed",
): Date {
  const m = AMZ_DATE.exec(value);
  const date = m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new S3Error(code, `X-Amz-Date ${value.slice(0, 40)} is not in the form YYYYMMDDTHHMMSSZ`);
  }
  return date;
}

function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function unknownKey(accessKeyId: string): S3Error {
  return new S3Error(
    "InvalidAccessKeyId",
    "The AWS Access Key Id you provided does not exist in our records.",
    {
      AWSAccessKeyId: accessKeyId,
    },
  );
}

function mismatch(): S3Error {
  return new S3Error(
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  );
}
