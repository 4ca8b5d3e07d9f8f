import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChunkStore } from "../../src/store/chunk-store.ts";

const KILLS = 55;
const MAX_LINES_BEFORE_KILL = 12;
const EARLY_KILL_EVERY = 6;
/** When killing before the first line, the kill lands this long after "go": in open() or the first put. */
const MAX_EARLY_KILL_MS = 20;
/**
 * After the awaited line the kill lands this long later, about one put of the writer, so kills spread over
 * every step of a put (hashing, temp write, fsync, rename) rather than always just after one finished.
 */
const MAX_LATE_KILL_MS = 20;
const WRITER = fileURLToPath(new URL("../helpers/crash-writer.mjs", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHUNK_PATH = /^([0-9a-f]{2})\/(\1[0-9a-f]{62})$/;

const hash = async (bytes: Uint8Array) => bytesToHex(blake3(bytes));

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "dmfs-crash-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Writer {
  /**
   * Lets the writer start on the store and SIGKILLs it once it has printed `linesToWait` ids (a little
   * later, at a random moment), or for 0 at a random moment before its first line. Resolves with every
   * id it printed, once its pipes have closed.
   */
  runAndKill(linesToWait: number): Promise<string[]>;
  /** Kills a writer that will not be used. */
  dispose(): void;
}

/** Starts a crash writer, which loads and then waits for its go before touching the store. */
function startWriter(): Writer {
  const child = spawn(process.execPath, [WRITER, root], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  let killAfterLines = Number.POSITIVE_INFINITY;
  let earlyKill: NodeJS.Timeout | undefined;
  let lateKill: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const closed = new Promise<string[]>((resolve, reject) => {
    child.on("error", reject);
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length >= killAfterLines && lateKill === undefined) {
        lateKill = setTimeout(kill, randomInt(0, MAX_LATE_KILL_MS));
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(earlyKill);
      clearTimeout(lateKill);
      if (signal === "SIGKILL") resolve(lines);
      else
        reject(new Error(`crash writer exited by itself (code ${code}) instead of being killed: ${stderr}`));
    });
  });
  // A writer disposed of unused is never awaited; its outcome must not count as an unhandled rejection.
  closed.catch(() => {});
  return {
    runAndKill(linesToWait) {
      killAfterLines = Math.max(1, linesToWait);
      if (linesToWait === 0) earlyKill = setTimeout(kill, randomInt(0, MAX_EARLY_KILL_MS));
      child.stdin.end("go\n");
      return closed;
    },
    dispose: kill,
  };
}

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * Checks that every file under chunks/ sits at a real chunk id path and hashes to that id. Chunk files are
 * immutable, so one verified in an earlier round only needs its size re-checked. Synchronous calls: this
 * walks hundreds of directories each round, and a busy thread pool makes async calls much slower here.
 */
function checkChunkFiles(verifiedSizes: Map<string, number>): void {
  const chunksDir = join(root, "chunks");
  for (const shard of namesIn(chunksDir)) {
    for (const name of readdirSync(join(chunksDir, shard))) {
      const relative = `${shard}/${name}`;
      expect(relative, "only whole chunks live under chunks/").toMatch(CHUNK_PATH);
      const path = join(chunksDir, relative);
      const known = verifiedSizes.get(name);
      if (known === undefined) {
        const bytes = readFileSync(path);
        expect(bytesToHex(blake3(bytes)), `${path} must hash to its name`).toBe(name);
        verifiedSizes.set(name, bytes.byteLength);
      } else {
        expect(statSync(path).size, `${path} must not change`).toBe(known);
      }
    }
  }
}

// Each round is a few fsynced puts; under the full suite's load on two cores a round can take 2-3 s.
it(`leaves only whole chunks and a store that reopens cleanly after ${KILLS} SIGKILLs at random moments`, async () => {
  const verifiedSizes = new Map<string, number>();
  const acknowledged = new Set<string>();
  let killedBeforeFirstLine = 0;
  let roundsWithTempLeftovers = 0;

  // The next writer loads (start-up is most of a round) while the current one runs and is checked.
  let next = startWriter();
  try {
    for (let round = 0; round < KILLS; round++) {
      const current = next;
      if (round < KILLS - 1) next = startWriter();
      // Every few rounds is an early kill for sure; the rest pick 0..12 lines at random.
      const linesToWait = round % EARLY_KILL_EVERY === 0 ? 0 : randomInt(0, MAX_LINES_BEFORE_KILL + 1);
      const printed = await current.runAndKill(linesToWait);
      if (printed.length === 0) killedBeforeFirstLine += 1;
      for (const id of printed) acknowledged.add(id);
      if (namesIn(join(root, "tmp")).length > 0) roundsWithTempLeftovers += 1;

      checkChunkFiles(verifiedSizes);
      for (const id of acknowledged)
        expect(verifiedSizes.has(id), `acknowledged chunk ${id} survives`).toBe(true);

      const store = await ChunkStore.open(root, { hash });
      expect(await readdir(join(root, "tmp")), "open() removes temp leftovers").toEqual([]);
      expect((await store.stats()).chunks).toBe(verifiedSizes.size);
      const bytes = new Uint8Array(randomBytes(randomInt(1, 64 * 1024)));
      const id = await hash(bytes);
      expect(await store.put(id, bytes)).toBe("stored");
      expect(Buffer.from(await store.get(id)).equals(bytes)).toBe(true);
    }
  } finally {
    next.dispose();
  }

  console.info(
    `crash test: ${KILLS} kills, ${killedBeforeFirstLine} before the first line, ` +
      `${roundsWithTempLeftovers} left a temp file behind, ${verifiedSizes.size} chunks verified`,
  );
  expect(killedBeforeFirstLine).toBeGreaterThan(0);
}, 180_000);
