import { spawn } from "node:child_process";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { CpuMeter, cpuSeconds } from "../../bench/e2e-cpu.ts";
import { PeakResidentSampler, resetPeakResident, residentBytes } from "../../bench/e2e-memory.ts";

const MiB = 1024 * 1024;
const children: ReturnType<typeof spawn>[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = once(child, "exit");
      child.kill("SIGKILL");
      await gone;
    }
  }
});

/** A child that holds `mib` MiB of touched memory and burns CPU until told to stop on stdin. */
async function startChild(mib: number): Promise<number> {
  const script = `
    const held = Buffer.alloc(${mib} * 1024 * 1024, 1);
    process.stdout.write("ready\\n");
    const end = Date.now() + 30000;
    const spin = () => { const t = Date.now() + 20; while (Date.now() < t) {} if (Date.now() < end) setImmediate(spin); };
    spin();
    process.stdin.on("data", () => { void held; process.exit(0); });
  `;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  await once(child.stdout, "data");
  return child.pid as number;
}

describe("reading a process's resources from /proc", () => {
  it("reads the resident and peak size of this process and of a child", async () => {
    const self = residentBytes(process.pid);
    expect(self?.rss).toBeGreaterThan(10 * MiB);
    expect(self?.hwm).toBeGreaterThanOrEqual(self?.rss ?? 0);
    const child = residentBytes(await startChild(64));
    expect(child?.rss).toBeGreaterThan(64 * MiB);
  });

  it("has no figures for a process that does not exist", () => {
    expect(residentBytes(2 ** 30)).toBeNull();
    expect(cpuSeconds(2 ** 30)).toBeNull();
    expect(resetPeakResident(2 ** 30)).toBe(false);
  });

  it("resets a peak so it covers only what follows", async () => {
    const pid = await startChild(96);
    expect(residentBytes(pid)?.hwm).toBeGreaterThan(96 * MiB);
    expect(resetPeakResident(pid)).toBe(true);
    // After a reset the peak starts again from the current resident size, which still holds the buffer.
    expect(residentBytes(pid)?.hwm).toBeLessThanOrEqual((residentBytes(pid)?.rss ?? 0) + 4 * MiB);
  });

  it("samples a peak per named process", async () => {
    const pid = await startChild(48);
    const sampler = new PeakResidentSampler(
      new Map([
        ["client", process.pid],
        ["child", pid],
      ]),
    );
    sampler.start();
    const extra = Buffer.alloc(32 * MiB, 2);
    const peaks = sampler.stop();
    expect(extra[0]).toBe(2);
    expect(peaks.get("child")).toBeGreaterThan(48);
    expect(peaks.get("client")).toBeGreaterThan(10);
  });

  it("meters the CPU time a busy child used, and none for a missing one", async () => {
    const pid = await startChild(1);
    const meter = new CpuMeter(
      new Map([
        ["child", pid],
        ["gone", 2 ** 30],
      ]),
    );
    meter.start();
    const startedAt = cpuSeconds(pid) ?? 0;
    // Poll until the spinning child has used a measurable amount of CPU (bounded by a deadline).
    const deadline = Date.now() + 10_000;
    while ((cpuSeconds(pid) ?? 0) - startedAt < 0.2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const used = meter.stop();
    expect(used.get("child")).toBeGreaterThanOrEqual(0.2);
    expect(used.get("gone")).toBeNull();
  });
});
