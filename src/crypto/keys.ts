// The data key and the subkeys derived from it. The data key is 32 random bytes in a file only the
// client's user may read; every other secret is derived from it with BLAKE3 derive_key, so one file
// is all a client needs to keep.
import { randomBytes } from "node:crypto";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { blake3 } from "@noble/hashes/blake3.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { DmfsError } from "../errors.ts";

export const DATA_KEY_BYTES = 32;

/**
 * derive_key context strings, one per subkey. They are part of the data format: changing one makes
 * every existing chunk, file key, path id or metadata blob unreadable.
 */
export const KEY_CONTEXTS = {
  chunk: "DMFS 2026-11 chunk hash v1",
  enc: "DMFS 2026-11 chunk encryption v1",
  file: "DMFS 2026-11 file id v1",
  path: "DMFS 2026-11 path id v1",
  meta: "DMFS 2026-11 metadata v1",
} as const;

/** k_chunk (keyed hash of chunk plaintext), k_enc (AES-256-GCM), k_file, k_path, k_meta; 32 bytes each. */
export type DataKeys = { readonly [purpose in keyof typeof KEY_CONTEXTS]: Uint8Array };

/** Writes a fresh data key to `path` (mode 0600) and returns it; never replaces an existing file. */
export async function generateDataKey(path: string): Promise<Uint8Array> {
  const key = randomBytes(DATA_KEY_BYTES);
  let file: FileHandle;
  try {
    file = await open(path, "wx", 0o600);
  } catch (err) {
    const reason = isErrno(err, "EEXIST") ? "it already exists" : describeFsFailure(err);
    throw new DmfsError("E_KEY_FILE", `refusing to create the data key file ${path}: ${reason}`, {
      subject: path,
      cause: err,
    });
  }
  try {
    await file.writeFile(key);
    await file.sync();
  } catch (err) {
    await file.close();
    // A half-written key would block the next attempt (the file exists) and could never load.
    await unlink(path).catch(() => undefined);
    throw new DmfsError(
      "E_KEY_FILE",
      `could not write the data key file ${path}: ${describeFsFailure(err)}`,
      {
        subject: path,
        cause: err,
      },
    );
  }
  await file.close();
  return key;
}

/** Reads the data key at `path`, refusing a missing file, a wrong length or one others can access. */
export async function loadDataKey(path: string): Promise<Uint8Array> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    const reason = isErrno(err, "ENOENT") ? "does not exist" : `cannot be opened: ${describeFsFailure(err)}`;
    throw new DmfsError("E_KEY_FILE", `the data key file ${path} ${reason}`, { subject: path, cause: err });
  }
  try {
    // Checked on the open handle, not the path, so the file judged is the file read.
    const stats = await file.stat();
    if (!stats.isFile()) {
      throw new DmfsError("E_KEY_FILE", `the data key file ${path} is not a regular file`, { subject: path });
    }
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
      throw new DmfsError(
        "E_KEY_FILE",
        `the data key file ${path} is accessible by group or others (mode ${mode}); run chmod 600 ${path}`,
        { subject: path },
      );
    }
    const key = await file.readFile();
    if (key.length !== DATA_KEY_BYTES) {
      throw new DmfsError(
        "E_KEY_FILE",
        `the data key file ${path} holds ${key.length} bytes; a data key is exactly ${DATA_KEY_BYTES} bytes`,
        { subject: path },
      );
    }
    return key;
  } catch (err) {
    if (err instanceof DmfsError) throw err;
    throw new DmfsError("E_KEY_FILE", `the data key file ${path} cannot be read: ${describeFsFailure(err)}`, {
      subject: path,
      cause: err,
    });
  } finally {
    await file.close();
  }
}

export function deriveKeys(dataKey: Uint8Array): DataKeys {
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new DmfsError(
      "E_KEY_FILE",
      `a data key is exactly ${DATA_KEY_BYTES} bytes, this one has ${dataKey.length}`,
    );
  }
  const derive = (context: string) => blake3(dataKey, { context: utf8ToBytes(context) });
  return {
    chunk: derive(KEY_CONTEXTS.chunk),
    enc: derive(KEY_CONTEXTS.enc),
    file: derive(KEY_CONTEXTS.file),
    path: derive(KEY_CONTEXTS.path),
    meta: derive(KEY_CONTEXTS.meta),
  };
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

function describeFsFailure(err: unknown): string {
  if (isErrno(err, "ENOENT")) return "its folder does not exist";
  if (isErrno(err, "EACCES") || isErrno(err, "EPERM")) return "permission denied";
  if (isErrno(err, "ENOSPC")) return "no space left on the device";
  return err instanceof Error ? err.message : String(err);
}
