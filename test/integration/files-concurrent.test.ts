// Concurrent clients on three real nodes: four CLI processes at a time, each uploading its own eight
// 1 MiB files through its own gateway, 32 files in all; every one reads back intact and `ls` lists all.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  startThreeNodeCluster,
  type TestCluster,
  writeSeededFile,
} from "../helpers/cluster-harness.ts";

const CLIENTS = 4;
const FILES_EACH = 8;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("concurrent clients", () => {
  it("stores 32 distinct 1 MiB files uploaded by four CLI processes at once, all intact", async () => {
    const names = Array.from({ length: CLIENTS * FILES_EACH }, (_, i) => `c${i % CLIENTS}/f${i}.bin`);
    for (const [i, name] of names.entries()) {
      await writeSeededFile(join(cluster.dir, `f${i}.bin`), `concurrent-${name}`, CHUNK_SIZE);
    }

    const keys = new Map<string, string>();
    let peak = 0;
    let running = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let n = 0; n < FILES_EACH; n++) {
          const i = n * CLIENTS + client;
          running++;
          peak = Math.max(peak, running);
          const up = await cluster.runCli(
            ["upload", join(cluster.dir, `f${i}.bin`), "--path", names[i] as string],
            { gateway: client % 3 },
          );
          running--;
          expect(up.stderr).toBe("");
          expect(up.code).toBe(0);
          keys.set(names[i] as string, up.stdout.trim());
        }
      }),
    );
    expect(peak).toBe(CLIENTS);
    expect(new Set(keys.values()).size).toBe(names.length);

    const files = await cluster.files(2);
    expect((await cluster.listedPaths(files)).sort()).toEqual([...names].sort());
    for (const [i, name] of names.entries()) {
      const pieces: Buffer[] = [];
      const out = new Writable({
        write(piece: Buffer, _encoding, done) {
          pieces.push(Buffer.from(piece));
          done();
        },
      });
      await files.read(keys.get(name) as string, out);
      expect(Buffer.concat(pieces).equals(await readFile(join(cluster.dir, `f${i}.bin`)))).toBe(true);
    }
  }, 90_000);
});
