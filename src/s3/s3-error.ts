// S3's own error vocabulary: a stable S3 code and the HTTP status a client expects with it, sent as the
// S3 XML error document. DmfsErrors from the cluster are translated here, in one place.
import { type DmfsError, isDmfsError } from "../errors.ts";

export const S3_ERRORS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchBucketPolicy: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchKey: 404,
  NoSuchLifecycleConfiguration: 404,
  NoSuchPublicAccessBlockConfiguration: 404,
  NoSuchTagSet: 404,
  NoSuchWebsiteConfiguration: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  ObjectLockConfigurationNotFoundError: 404,
  OwnershipControlsNotFoundError: 404,
  PreconditionFailed: 412,
  ReplicationConfigurationNotFoundError: 404,
  RequestTimeTooSkewed: 403,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof S3_ERRORS;

export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    /** Extra elements for the error document (e.g. the bucket or key it is about). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = "S3Error";
    this.status = S3_ERRORS[code];
  }
}

/** The S3 error a failure becomes: S3Errors as they are, cluster errors by their code, the rest 500. */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (isDmfsError(err)) return fromDmfsError(err);
  return new S3Error("InternalError", "We encountered an internal error. Please try again.");
}

function fromDmfsError(err: DmfsError): S3Error {
  switch (err.code) {
    case "E_NOT_FOUND":
      return new S3Error("NoSuchKey", err.message);
    case "E_QUORUM":
    case "E_UNREACHABLE":
    case "E_CONNECTION_CLOSED":
    case "E_TIMEOUT":
    case "E_NO_SPACE":
      return new S3Error("ServiceUnavailable", err.message);
    case "E_USAGE":
      return new S3Error("InvalidArgument", err.message);
    default:
      return new S3Error("InternalError", err.message);
  }
}
