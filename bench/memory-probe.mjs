// Loaded into a process under study with `node --import <this file>`: every 200 ms, while
// DMFS_MEMORY_PROBE names a file, appends one JSON line of process.memoryUsage() (rss, heapTotal,
// heapUsed, external, arrayBuffers) to it, so a bench can say where a peak went: V8's heap, or buffers
// outside it. Plain JavaScript so it loads in front of the build in dist/ without a loader.
import { appendFileSync } from "node:fs";

const file = process.env.DMFS_MEMORY_PROBE;
if (file) {
  const timer = setInterval(() => {
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...process.memoryUsage() })}\n`);
  }, 200);
  timer.unref();
}
