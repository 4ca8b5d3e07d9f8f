// Peak memory of the processes in an end-to-end case (Linux /proc): each process's resident set size is
// sampled every 100 ms while the case runs, and its kernel high-water mark (VmHWM), reset when the case
// starts, is read when it ends; the peak is the larger of the two.
import { readFileSync, writeFileSync } from "node:fs";

const SAMPLE_EVERY_MS = 100;
const KiB = 1024;
const MiB = 1024 * KiB;

/** A process's current resident set size and its peak since the last reset, in bytes; null without /proc. */
export function residentBytes(pid: number): { rss: number; hwm: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const rss = kib("VmRSS");
  const hwm = kib("VmHWM");
  return Number.isFinite(rss) && Number.isFinite(hwm) ? { rss: rss * KiB, hwm: hwm * KiB } : null;
}

/** Sets the process's VmHWM back to its current RSS (Linux `clear_refs` 5); false where that is refused. */
export function resetPeakResident(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export class PeakResidentSampler {
  readonly #peaks = new Map<string, number>();
  readonly #hwmReset = new Map<string, boolean>();
  #timer: NodeJS.Timeout | undefined;

  /** `processes` maps a name ("client", "node-0") to its pid. */
  constructor(private readonly processes: ReadonlyMap<string, number>) {}

  start(): void {
    for (const [name, pid] of this.processes) this.#hwmReset.set(name, resetPeakResident(pid));
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_EVERY_MS);
  }

  /** Stops sampling; the peak of each process in MiB (null when it could not be read). */
  stop(): Map<string, number | null> {
    clearInterval(this.#timer);
    this.#sample();
    const peaks = new Map<string, number | null>();
    for (const [name, pid] of this.processes) {
      const sampled = this.#peaks.get(name);
      // A high-water mark that was not reset covers the process's whole life, not this case.
      const hwm = this.#hwmReset.get(name) ? residentBytes(pid)?.hwm : undefined;
      const peak = Math.max(sampled ?? 0, hwm ?? 0);
      peaks.set(name, sampled === undefined && hwm === undefined ? null : Math.round((peak / MiB) * 10) / 10);
    }
    return peaks;
  }

  #sample(): void {
    for (const [name, pid] of this.processes) {
      const rss = pid === process.pid ? process.memoryUsage.rss() : residentBytes(pid)?.rss;
      if (rss !== undefined) this.#peaks.set(name, Math.max(this.#peaks.get(name) ?? 0, rss));
    }
  }
}
