// Child process of the chunk-store crash test: waits for a line on stdin (so the test can start it while
// still checking the previous writer), then opens the store at argv[2] and puts random chunks of up to
// 256 KiB in a loop, printing each id on its own line once put() has returned, until it is SIGKILLed.
import { randomBytes, randomInt } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ChunkStore } from "../../src/store/chunk-store.ts";

// Bounds the loop; the test kills the writer after at most a few dozen puts.
const MAX_PUTS = 1000;

const root = process.argv[2];
if (root === undefined) {
  process.stderr.write("usage: crash-writer.ts <store root>\n");
  process.exit(2);
}

const go = await new Promise<boolean>((resolve) => {
  process.stdin.once("data", () => resolve(true));
  process.stdin.once("end", () => resolve(false));
});
// stdin closed without a go: the test ended before needing this writer.
if (!go) process.exit(0);
process.stdin.destroy();

const hash = async (bytes: Uint8Array) => bytesToHex(blake3(bytes));
const store = await ChunkStore.open(root, { hash });
for (let i = 0; i < MAX_PUTS; i++) {
  const bytes = new Uint8Array(randomBytes(randomInt(1, 256 * 1024 + 1)));
  const id = await hash(bytes);
  // The id was just computed from these bytes, so the store need not hash them a second time.
  await store.put(id, bytes, { verified: true });
  // A pipe on stdout is written synchronously, so a printed id is always a put that had returned.
  process.stdout.write(`${id}\n`);
}
