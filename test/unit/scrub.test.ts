import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/node/logger.ts";
import { Scrub } from "../../src/node/scrub.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";

let dir: string;
let pool: CryptoPool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-scrub-"));
  pool = new CryptoPool({ threads: 1 });
});
afterAll(async () => {
  await pool.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("scrub", () => {
  it("quarantines exactly the copies that rotted on disk and leaves good ones alone", async () => {
    const store = await ChunkStore.open(dir, { hash: async (b) => bytesToHex(blake3(b)) });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const data = new Uint8Array(4096).fill(i);
      const id = bytesToHex(blake3(data));
      await store.put(id, data);
      ids.push(id);
    }
    const rotten = [ids[1] as string, ids[4] as string];
    for (const id of rotten) {
      const path = store.pathOf(id);
      const bytes = await readFile(path);
      bytes[100] = (bytes[100] as number) ^ 0xff;
      await writeFile(path, bytes);
    }
    const quarantined = await new Scrub(store, pool, createLogger("silent")).run();
    expect(quarantined).toBe(2);
    for (const id of ids) expect(await store.has(id)).toBe(!rotten.includes(id));
  });

  it("ends a pass whose listing fails with 0 quarantined, not a rejection let loose from its timer", async () => {
    const store = await ChunkStore.open(join(dir, "gone"), { hash: async (b) => bytesToHex(blake3(b)) });
    await rm(join(dir, "gone"), { recursive: true, force: true });
    const scrub = new Scrub(store, pool, createLogger("silent"));
    expect(await scrub.run()).toBe(0);
    // The next pass starts afresh rather than returning the failed one.
    expect(await scrub.run()).toBe(0);
  });
});
