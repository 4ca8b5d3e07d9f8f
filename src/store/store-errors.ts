// Turns a Node.js file-system error into a DmfsError whose code the CLI can act on and whose message
// names the operation and the path, e.g. "cannot write chunk file /x/y: no space left on the device".
import { DmfsError, type ErrorCode, ErrorCodes } from "../errors.ts";

const CODE_BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOSPC: "E_NO_SPACE",
  EDQUOT: "E_NO_SPACE",
  EACCES: "E_PERMISSION",
  EPERM: "E_PERMISSION",
  EROFS: "E_READ_ONLY",
};

/** The errno name of a Node.js system error ("ENOENT", ...), or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  return typeof err.code === "string" ? err.code : undefined;
}

/**
 * Wraps `err` from `operation` (a verb phrase such as "write chunk file") on `path`.
 * A DmfsError passes through unchanged so wrapping twice never hides the first, more precise, cause.
 */
export function storeError(err: unknown, operation: string, path: string): DmfsError {
  if (err instanceof DmfsError) return err;
  const errno = errnoOf(err);
  const code = (errno === undefined ? undefined : CODE_BY_ERRNO[errno]) ?? "E_IO";
  // E_IO covers many errno values; naming the one we got is what lets someone diagnose it.
  const detail = code === "E_IO" && errno !== undefined ? ` (${errno})` : "";
  return new DmfsError(code, `cannot ${operation} ${path}: ${ErrorCodes[code]}${detail}`, {
    subject: path,
    cause: err,
  });
}
