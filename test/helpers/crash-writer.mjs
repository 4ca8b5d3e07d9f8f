// Child process of the chunk-store crash test. Plain JavaScript on the built store (dist/, which `npm test`
// builds first), so each of the test's writers starts in ~0.1 s of CPU instead of ~0.5-1 s under tsx: under
// the full suite's load, tsx start-ups pushed the test past its timeout. Waits for a line on stdin (so the
// test can start it while still checking the previous writer), then opens the store at argv[2] and puts
// random chunks of up to 256 KiB in a loop, printing each id once put() has returned, until SIGKILLed.
import { randomBytes, randomInt } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ChunkStore } from "../../dist/store/chunk-store.js";

// Bounds the loop; the test kills the writer after at most a few dozen puts.
const MAX_PUTS = 1000;

const root = process.argv[2];
if (root === undefined) {
  process.stderr.write("usage: crash-writer.mjs <store root>\n");
  process.exit(2);
}

const go = await new Promise((resolve) => {
  process.stdin.once("data", () => resolve(true));
  process.stdin.once("end", () => resolve(false));
});
// stdin closed without a go: the test ended before needing this writer.
if (!go) process.exit(0);
process.stdin.destroy();

const hash = async (bytes) => bytesToHex(blake3(bytes));
const store = await ChunkStore.open(root, { hash });
for (let i = 0; i < MAX_PUTS; i++) {
  const bytes = new Uint8Array(randomBytes(randomInt(1, 256 * 1024 + 1)));
  const id = await hash(bytes);
  // The id was just computed from these bytes, so the store need not hash them a second time.
  await store.put(id, bytes, { verified: true });
  // A pipe on stdout is written synchronously, so a printed id is always a put that had returned.
  process.stdout.write(`${id}\n`);
}
