// A tree of many small files on local disk, for the clients that sync folders (aws s3 sync, rclone
// sync): seeded contents of varied sizes (some empty), nested folders, and names with the characters
// S3 clients escape differently (space, +, %, non-ASCII).
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { seededBytes } from "./cluster-harness.ts";

const ODD_NAMES = ["with space.txt", "a+b.txt", "100%.txt", "ü-日本.txt", "semi;colon", "eq=amp&.bin"];

/** Writes `count` files under `dir`; returns their sizes by path relative to it, in path order. */
export async function writeFileTree(dir: string, count: number, seed: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const folder = i % 3 === 0 ? `d${i % 10}/deeper` : `d${i % 10}`;
    const name = i < ODD_NAMES.length ? (ODD_NAMES[i] as string) : `f${i}.bin`;
    const path = `${folder}/${name}`;
    await mkdir(join(dir, dirname(path)), { recursive: true });
    const size = (i * 997) % 4096;
    await writeFile(join(dir, path), await seededBytes(`${seed}/${path}`, size));
    sizes.set(path, size);
  }
  return new Map([...sizes].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Every file under `dir` by relative path, with the SHA-256 of its bytes. */
export async function fileTreeDigest(dir: string): Promise<Map<string, string>> {
  const digest = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    digest.set(
      relative(dir, path),
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    );
  }
  return new Map([...digest].sort(([a], [b]) => (a < b ? -1 : 1)));
}
