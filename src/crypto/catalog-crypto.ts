// What the client puts in a catalog entry so that nodes learn nothing from it: the path id is a keyed
// hash of the path, and `meta` ({ path, size, mtime }) is AES-256-GCM under the metadata key with a
// random nonce (nonce || ciphertext || tag). Small inputs: this runs on the main thread.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";
import type { DataKeys } from "./keys.ts";

const NONCE = 12;
const TAG = 16;

export const FileMeta = z.strictObject({
  path: z.string().min(1).max(1024),
  size: z.number().int().nonnegative(),
  mtime: z.number().int().nonnegative(),
});
export type FileMeta = z.infer<typeof FileMeta>;

export function pathIdOf(keys: Pick<DataKeys, "path">, path: string): string {
  return bytesToHex(blake3(utf8ToBytes(path), { key: keys.path }));
}

export function sealMeta(keys: Pick<DataKeys, "meta">, meta: FileMeta): Uint8Array {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", keys.meta, nonce);
  const body = Buffer.concat([cipher.update(encode(meta)), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Decrypts and checks an entry's metadata; a wrong data key or a tampered blob is E_WRONG_KEY. */
export function openMeta(keys: Pick<DataKeys, "meta">, sealed: Uint8Array): FileMeta {
  const wrong = () =>
    new DmfsError("E_WRONG_KEY", "wrong data key or corrupted data: file metadata does not decrypt");
  if (sealed.length < NONCE + TAG) throw wrong();
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", keys.meta, sealed.subarray(0, NONCE));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    plain = Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]);
  } catch {
    throw wrong();
  }
  const parsed = FileMeta.safeParse(safeDecode(plain));
  if (!parsed.success) throw wrong();
  return parsed.data;
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}
