// Byte-wise search for the admin bundle's secrets (the data key, the CA key, the client key) in every
// file under some directories - what a node's bundle and root must never contain (DESIGN.md section 8).
import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Every file under `dir`, recursively; none when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The byte strings that give a private key away: its PEM, its PKCS#8 DER and its raw scalar. */
function privateKeyForms(pem: string): Buffer[] {
  const key = createPrivateKey(pem);
  const d = key.export({ format: "jwk" }).d as string;
  return [Buffer.from(pem.trim()), key.export({ format: "der", type: "pkcs8" }), Buffer.from(d, "base64url")];
}

/** The secrets of an admin bundle, each with a name for the failure message. */
export async function adminSecrets(adminDir: string): Promise<[string, Buffer][]> {
  const dataKey = await readFile(join(adminDir, "data.key"));
  const keyForms = async (file: string) =>
    privateKeyForms(await readFile(join(adminDir, file), "utf8")).map((form): [string, Buffer] => [
      file,
      form,
    ]);
  return [
    ["data.key", dataKey],
    ["data.key (hex)", Buffer.from(dataKey.toString("hex"))],
    ...(await keyForms("ca.key")),
    ...(await keyForms("client.key")),
  ];
}

/** Where under `dirs` any of `secrets` occurs ("<secret> in <file>"), and how many bytes were searched. */
export async function findSecrets(
  dirs: string[],
  secrets: [string, Buffer][],
): Promise<{ found: string[]; files: string[]; bytes: number }> {
  const found: string[] = [];
  const files = (await Promise.all(dirs.map(filesUnder))).flat();
  let bytes = 0;
  for (const path of files) {
    const content = await readFile(path);
    bytes += content.length;
    for (const [what, secret] of secrets) if (content.includes(secret)) found.push(`${what} in ${path}`);
  }
  return { found, files, bytes };
}
