// Timed file transfers for the end-to-end suite: one upload of a generated file, one read checked
// against what was uploaded, and many small operations at a fixed concurrency with their latencies.
import { finished } from "node:stream/promises";
import type { FileClient } from "../src/client/file-client.ts";
import { StreamCheck, streamPieces } from "./e2e-data.ts";

/** Pieces the generated source hands to the client: one chunk's worth, as a file read would. */
const SOURCE_PIECE_BYTES = 1024 * 1024;

/** Uploads `size` bytes of the stream named `seed` under the path `seed`; its key and duration. */
export async function timedUpload(
  files: FileClient,
  seed: string,
  size: number,
): Promise<{ key: string; milliseconds: number }> {
  const start = performance.now();
  const { key } = await files.upload(streamPieces(seed, size, SOURCE_PIECE_BYTES), seed, Date.now());
  return { key, milliseconds: performance.now() - start };
}

/** Reads the file `key` and checks it is the stream named `seed`, `size` bytes long; its duration. */
export async function timedRead(files: FileClient, key: string, seed: string, size: number): Promise<number> {
  const check = new StreamCheck(seed, size, `${seed} (${key.slice(0, 12)})`);
  const checked = finished(check);
  const start = performance.now();
  try {
    await files.read(key, check);
    check.end();
  } catch (err) {
    check.destroy(err as Error);
  }
  await checked;
  return performance.now() - start;
}

export interface OperationStats {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `operation(0 .. count-1)` with `concurrency` running at once; the rate and latency percentiles. */
export async function timedOperations(
  count: number,
  concurrency: number,
  operation: (index: number) => Promise<void>,
): Promise<OperationStats> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const start = performance.now();
      await operation(index);
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { opsPerSec: count / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** The nearest-rank percentile of ascending `sorted` values (NaN for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}
