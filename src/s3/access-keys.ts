// S3 access keys live in the admin/client bundle (`<cluster>/s3-keys.json`, mode 0600) beside the data
// key: the gateway is a client, so nodes never see them (DESIGN.md section 9). The file is versioned so a
// later format can still read this one.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomically } from "../cluster/cluster-dir.ts";
import { DmfsError } from "../errors.ts";

export const ACCESS_KEYS_FILE = "s3-keys.json";
const PRIVATE_MODE = 0o600;
/** AWS's own shape: 20 upper-case letters and digits for the id, 40 characters for the secret. */
const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const AccessKeySchema = z.object({
  accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/),
  secretAccessKey: z.string().min(16).max(128),
  created: z.number().int(),
});
const AccessKeysFileSchema = z.object({ v: z.literal(1), keys: z.array(AccessKeySchema) });

export type AccessKey = z.infer<typeof AccessKeySchema>;

export function accessKeysPath(clusterDir: string): string {
  return join(clusterDir, ACCESS_KEYS_FILE);
}

/** The keys in the bundle; none when the file does not exist yet. */
export async function loadAccessKeys(clusterDir: string): Promise<AccessKey[]> {
  const path = accessKeysPath(clusterDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new DmfsError("E_CONFIG", `cannot read ${path}: ${(err as Error).message}`, { subject: path });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DmfsError("E_CONFIG", `${path} is not JSON`, { subject: path });
  }
  const result = AccessKeysFileSchema.safeParse(parsed);
  if (!result.success) {
    throw new DmfsError(
      "E_CONFIG",
      `${path} is not an S3 access key file: ${result.error.issues[0]?.message}`,
      {
        subject: path,
      },
    );
  }
  return result.data.keys;
}

async function saveAccessKeys(clusterDir: string, keys: AccessKey[]): Promise<void> {
  const body = `${JSON.stringify({ v: 1, keys }, null, 2)}\n`;
  await writeFileAtomically(accessKeysPath(clusterDir), body, PRIVATE_MODE);
}

export function newAccessKey(now = Date.now()): AccessKey {
  const id = Array.from(randomBytes(18), (b) => ID_ALPHABET[b % 32]).join("");
  return {
    accessKeyId: `DM${id}`,
    secretAccessKey: randomBytes(30).toString("base64").replace(/\+/g, "A").replace(/\//g, "B"),
    created: now,
  };
}

export async function createAccessKey(clusterDir: string): Promise<AccessKey> {
  const keys = await loadAccessKeys(clusterDir);
  const key = newAccessKey();
  await saveAccessKeys(clusterDir, [...keys, key]);
  return key;
}

export async function deleteAccessKey(clusterDir: string, accessKeyId: string): Promise<void> {
  const keys = await loadAccessKeys(clusterDir);
  const kept = keys.filter((k) => k.accessKeyId !== accessKeyId);
  if (kept.length === keys.length) {
    throw new DmfsError("E_NOT_FOUND", `no S3 access key ${accessKeyId} in ${accessKeysPath(clusterDir)}`, {
      subject: accessKeyId,
    });
  }
  await saveAccessKeys(clusterDir, kept);
}
