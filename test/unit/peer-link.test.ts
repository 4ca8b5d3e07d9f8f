// The peer link machine with fake effects: connect and heartbeat are provided as fakes, timers are
// real but short, and the test waits for the link's reports to its parent.
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createActor, fromCallback, fromPromise, setup } from "xstate";
import {
  backoffDelay,
  heartbeat,
  type LinkReport,
  type LinkSession,
  peerLinkMachine,
} from "../../src/actors/peer-link.ts";
import type { Connection } from "../../src/protocol/connection.ts";
import type { Message } from "../../src/protocol/messages.ts";

const SELF = "0".repeat(32);
const PEER = "1".repeat(32);
const timing = {
  heartbeatMs: 10,
  suspectAfterMs: 40,
  failureTimeoutMs: 80,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
};

function fakeSession(nodeId = PEER): LinkSession {
  const conn = Object.assign(new EventEmitter(), {
    close: () => undefined,
    isClosed: false,
  }) as unknown as Connection;
  return {
    conn,
    peer: {
      t: "hello",
      protocol: 1,
      clusterId: "c".repeat(32),
      role: "node",
      nodeId,
      listenAddr: "127.0.0.1:1",
    },
  };
}

/** Runs a link under a parent that records its reports; `pongs` decides whether heartbeats are answered. */
function run(connect: () => Promise<LinkSession>, pongs: { on: boolean }, linkTiming = timing) {
  const reports: LinkReport[] = [];
  const link = peerLinkMachine.provide({
    actors: {
      connect: fromPromise(connect),
      heartbeat: fromCallback(({ sendBack }) => {
        const t = setInterval(
          () => pongs.on && sendBack({ type: "link.pong", rttMs: 1 }),
          timing.heartbeatMs,
        );
        return () => clearInterval(t);
      }),
    },
  });
  const parent = setup({ actors: { link } }).createMachine({
    invoke: { id: "link", src: "link", input: { addr: "127.0.0.1:1", selfNodeId: SELF, timing: linkTiming } },
    on: { "*": { actions: ({ event }) => reports.push(event as unknown as LinkReport) } },
  });
  const actor = createActor(parent).start();
  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 3_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { reports, actor, until };
}

describe("peer link", () => {
  it("reports down after a failed dial and keeps redialling with backoff until the peer answers", async () => {
    let attempts = 0;
    const { reports, actor, until } = run(
      async () => {
        attempts++;
        if (attempts < 3) throw new Error("connection refused");
        return fakeSession();
      },
      { on: true },
    );
    await until("alive", () => reports.some((r) => r.state === "alive"));
    expect(attempts).toBe(3);
    expect(reports.filter((r) => r.state === "down").length).toBe(2);
    expect(reports.find((r) => r.state === "down")?.reason).toBe("connection refused");
    expect(reports.at(-1)).toMatchObject({ state: "alive", nodeId: PEER });
    actor.stop();
  });

  it("goes suspect, then down, when heartbeats stop being answered, and back to alive after a redial", async () => {
    const pongs = { on: true };
    const { reports, actor, until } = run(async () => fakeSession(), pongs);
    await until("alive", () => reports.some((r) => r.state === "alive"));
    pongs.on = false;
    await until("suspect", () => reports.some((r) => r.state === "suspect"));
    await until("down", () => reports.some((r) => r.state === "down"));
    const down = reports.find((r) => r.state === "down");
    expect(down?.nodeId).toBe(PEER); // a down peer is still named, so the node can mark it
    pongs.on = true;
    const seen = reports.length;
    await until("alive again", () => reports.slice(seen).some((r) => r.state === "alive"));
    actor.stop();
  });

  it("dials again at once, without waiting out a long backoff, when told the peer is back", async () => {
    let attempts = 0;
    const slow = { ...timing, backoffBaseMs: 60_000, backoffMaxMs: 60_000 };
    const { reports, actor, until } = run(
      async () => {
        attempts++;
        if (attempts === 1) throw new Error("connection refused");
        return fakeSession();
      },
      { on: true },
      slow,
    );
    await until("down", () => reports.some((r) => r.state === "down"));
    actor.getSnapshot().children.link?.send({ type: "link.retry" });
    await until("alive", () => reports.some((r) => r.state === "alive"));
    expect(attempts).toBe(2);
    actor.stop();
  });

  it("stops quietly when the address turns out to be this node itself", async () => {
    const { reports, actor, until } = run(async () => fakeSession(SELF), { on: true });
    await until("self", () => reports.some((r) => r.state === "self"));
    expect(reports.some((r) => r.state === "alive")).toBe(false);
    actor.stop();
  });

  it("tells the peer in every heartbeat what the node's news says: full, then not", async () => {
    const pings: Message[] = [];
    const session = fakeSession();
    Object.assign(session.conn, {
      request: async (m: Message) => {
        pings.push(m);
        return { t: "pong", re: 1, at: 0 };
      },
    });
    const news = { full: true };
    const pongs: number[] = [];
    const parent = setup({
      actors: { beat: heartbeat(() => (news.full ? { full: true } : {})) },
    }).createMachine({
      invoke: { src: "beat", input: { session, timing } },
      on: { "link.pong": { actions: () => pongs.push(1) } },
    });
    const actor = createActor(parent).start();
    const deadline = Date.now() + 5_000;
    while (pings.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    news.full = false;
    const seen = pings.length;
    while (pings.length < seen + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    actor.stop();
    expect(pings.length).toBeGreaterThanOrEqual(seen + 2);
    expect(pings.slice(0, 2).every((m) => m.t === "ping" && m.full === true)).toBe(true);
    expect(pings.slice(seen + 1).every((m) => m.t === "ping" && m.full === undefined)).toBe(true);
    expect(pongs.length).toBeGreaterThan(0);
  });

  it("backs off exponentially with jitter, capped", () => {
    const t = { backoffBaseMs: 100, backoffMaxMs: 2_000 };
    for (let attempt = 0; attempt < 30; attempt++) {
      const ceiling = Math.min(2_000, 100 * 2 ** attempt);
      const d = backoffDelay(attempt, t);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });
});
