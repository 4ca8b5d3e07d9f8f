// One error type for the whole project: a stable `code` that callers, tests and the CLI's exit status
// match on, and a message a user can act on. Each area adds its codes here so they stay unique.

export const ErrorCodes = {
  // crypto and keys
  E_WRONG_KEY: "wrong data key or corrupted data",
  E_CHUNK_CORRUPT: "chunk bytes do not match their id",
  E_KEY_FILE: "data key file is unusable",
  E_CORRUPT: "what the cluster sent does not match the file's sealed metadata",
  // store
  E_NO_SPACE: "no space left on the device",
  E_DISK_FULL: "disk full on the nodes",
  E_PERMISSION: "permission denied",
  E_READ_ONLY: "read-only file system",
  E_NOT_FOUND: "not found",
  E_IO: "input/output error",
  E_INVALID_ID: "invalid chunk id",
  // wire protocol
  E_FRAME_TOO_LARGE: "frame larger than the maximum",
  E_FRAME_MALFORMED: "frame is not a valid message",
  E_MESSAGE_INVALID: "message does not match its schema",
  E_UNAUTHORIZED: "message not allowed for this peer's role",
  E_HELLO_MISMATCH: "peer hello does not match",
  E_CONNECTION_CLOSED: "connection closed",
  E_TIMEOUT: "timed out",
  E_CLOCK_AHEAD: "a peer's clock is too far ahead",
  E_CERT_IN_USE: "this node certificate is in use by another node",
  // config, cluster, cli
  E_CONFIG: "invalid configuration",
  E_CLUSTER_EXISTS: "cluster already exists",
  E_CLUSTER_MISSING: "cluster directory is missing or incomplete",
  E_BUNDLE_SECRET: "a node bundle holds a cluster secret",
  E_REVOKED: "certificate revoked",
  E_UNREACHABLE: "cluster unreachable",
  E_QUORUM: "write quorum not met",
  E_TOO_FEW_WRITABLE: "too few nodes take new copies: some are read-only after missing a purge",
  E_NODE_READ_ONLY: "this node is read-only: its catalog may hold files deleted while it was away",
  E_USAGE: "invalid command-line usage",
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class DmfsError extends Error {
  readonly code: ErrorCode;
  /** The file, field or peer the error is about, when there is one. */
  readonly subject: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { subject?: string; cause?: unknown }) {
    super(message ?? ErrorCodes[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DmfsError";
    this.code = code;
    this.subject = options?.subject;
  }
}

export function isDmfsError(err: unknown, code?: ErrorCode): err is DmfsError {
  return err instanceof DmfsError && (code === undefined || err.code === code);
}
