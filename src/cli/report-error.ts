// Turns any error into one sentence for a person and an exit status for a script.
import { DmfsError, type ErrorCode } from "../errors.ts";

const STATUS: Partial<Record<ErrorCode, number>> = {
  E_USAGE: 2,
  E_CONFIG: 3,
  E_CLUSTER_MISSING: 3,
  E_CLUSTER_EXISTS: 3,
  E_BUNDLE_SECRET: 3,
  E_KEY_FILE: 3,
  E_NOT_FOUND: 4,
  E_WRONG_KEY: 5,
  E_CHUNK_CORRUPT: 5,
  E_CORRUPT: 5,
  E_UNREACHABLE: 6,
  E_QUORUM: 7,
  E_NO_SPACE: 8,
  E_DISK_FULL: 8,
  E_TOO_FEW_WRITABLE: 10,
};

/** `ls` listed what it could, but some entries did not open or did not match their metadata. */
export const EXIT_UNREADABLE_ENTRIES = 9;

export function exitStatusFor(err: unknown): number {
  return err instanceof DmfsError ? (STATUS[err.code] ?? 1) : 1;
}

export function reportError(err: unknown, opts: { debug: boolean }): void {
  const sentence = err instanceof Error ? err.message : String(err);
  process.stderr.write(`dmfs: ${sentence}\n`);
  if (opts.debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}
