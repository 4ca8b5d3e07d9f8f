// Deletes on three real nodes while one of them is down: once it is back and anti-entropy has run, every
// node - asked as the gateway - agrees the file is gone (`ls` does not list it, `read` finds nothing),
// and the returning node's stale entry never brings it back. Twenty rounds on one cluster.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileClient } from "../../src/client/file-client.ts";
import { isDmfsError } from "../../src/errors.ts";
import {
  seededStream,
  startThreeNodeCluster,
  type TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";

const ROUNDS = 20;
const NODES = [0, 1, 2];
let cluster: TestCluster;
/** One FileClient per node, replaced when its node was restarted. */
const clients: FileClient[] = [];

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

async function through(node: number): Promise<FileClient> {
  clients[node] = await cluster.files(node);
  return clients[node];
}

const discard = () =>
  new Writable({
    write(_piece, _encoding, done) {
      done();
    },
  });

/** True when node `node` neither lists `path` nor can read `key`. */
async function goneOn(node: number, path: string, key: string): Promise<boolean> {
  const files = clients[node] as FileClient;
  if ((await cluster.listedPaths(files)).includes(path)) return false;
  try {
    await files.read(key, discard());
    return false;
  } catch (err) {
    if (isDmfsError(err, "E_NOT_FOUND")) return true;
    throw err;
  }
}

describe("delete while a node is down", () => {
  it("leaves the file gone on every node once the node is back, in each of 20 rounds", async () => {
    for (const n of NODES) await through(n);
    const uploaded = [];
    for (let i = 0; i < ROUNDS; i++) {
      const files = clients[i % 3] as FileClient;
      uploaded.push(await files.upload(seededStream(`delete-${i}`, 10_000 + i), `del/${i}.bin`, i));
    }
    await waitFor(
      "every node to list all 20 files",
      async () => {
        for (const n of NODES)
          if ((await cluster.listedPaths(clients[n] as FileClient)).length !== ROUNDS) return false;
        return true;
      },
      10_000,
    );

    for (const [i, { key, path }] of uploaded.entries()) {
      const down = i % 3;
      const gateway = (i + 1) % 3;
      await cluster.kill(down);
      const removed = await (clients[gateway] as FileClient).delete(path);
      expect(removed).toEqual({ path, key });

      await cluster.start(down);
      await through(down);
      // Only one node down at a time: the next round starts once the mesh is whole again.
      await cluster.waitForMesh();
      for (const n of NODES) {
        await waitFor(`round ${i}: node ${n} to agree ${path} is gone`, () => goneOn(n, path, key), 10_000);
      }
    }

    // Nothing came back anywhere: every node lists no file and reads none of the keys.
    for (const n of NODES) {
      expect(await cluster.listedPaths(clients[n] as FileClient)).toEqual([]);
      for (const { path, key } of uploaded) expect(await goneOn(n, path, key)).toBe(true);
    }
    // 65-93 s in CI runs on this machine: room for a slower one.
  }, 240_000);
});
