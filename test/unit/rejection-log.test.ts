import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RejectionLog } from "../../src/node/rejection-log.ts";

let lines: { fields: Record<string, unknown>; msg: string }[];
let log: RejectionLog;

beforeEach(() => {
  vi.useFakeTimers();
  lines = [];
  log = new RejectionLog((fields, msg) => lines.push({ fields, msg }), 10_000);
});
afterEach(() => {
  log.stop();
  vi.useRealTimers();
});

describe("RejectionLog", () => {
  it("logs the first refusal from a source at once and the rest as one line per interval", () => {
    for (let i = 0; i < 1_000; i++)
      log.note("10.0.0.1", i % 2 ? "E_TLS_HANDSHAKE" : "E_FRAME_MALFORMED", `#${i}`);
    log.note("10.0.0.2", "E_HELLO_MISMATCH", "wrong cluster");
    expect(lines).toEqual([
      {
        fields: { source: "10.0.0.1", reason: "E_FRAME_MALFORMED", detail: "#0" },
        msg: "refused a connection",
      },
      {
        fields: { source: "10.0.0.2", reason: "E_HELLO_MISMATCH", detail: "wrong cluster" },
        msg: "refused a connection",
      },
    ]);

    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({
      fields: {
        source: "10.0.0.1",
        count: 999,
        reasons: { E_TLS_HANDSHAKE: 500, E_FRAME_MALFORMED: 499 },
        lastDetail: "#999",
      },
      msg: "refused 999 more connections in the last 10 s",
    });

    // Still refusing: one more line at the end of the next interval, none at once.
    for (let i = 0; i < 50; i++) log.note("10.0.0.1", "E_TLS_HANDSHAKE", "again");
    expect(lines).toHaveLength(3);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
    expect(lines[3]?.fields).toMatchObject({ source: "10.0.0.1", count: 50 });

    // A quiet interval ends the window: the next refusal is news again.
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
    log.note("10.0.0.1", "E_TLS_HANDSHAKE", "back");
    expect(lines).toHaveLength(5);
    expect(lines[4]?.msg).toBe("refused a connection");
  });

  it("sums refusals from more sources than it tracks under one", () => {
    for (let i = 0; i < 2_000; i++) log.note(`10.0.${i >> 8}.${i & 0xff}`, "E_TLS_HANDSHAKE", "scan");
    const sources = new Set(lines.map((l) => l.fields.source));
    expect(sources.has("other")).toBe(true);
    expect(lines.length).toBe(sources.size);
    expect(lines.length).toBeLessThanOrEqual(257);
  });
});
