// The node actor with fake links: a down member that connects from a new address is dialled there too,
// followed there once that link is alive, and an alive member's second address is still dropped.
import { describe, expect, it } from "vitest";
import { createActor, fromCallback } from "xstate";
import { nodeMachine } from "../../src/actors/node.ts";
import type { LinkReport } from "../../src/actors/peer-link.ts";
import type { Connection } from "../../src/protocol/connection.ts";

const SELF = "0".repeat(32);
const PEER = "a".repeat(32);
const OLD = "127.0.0.1:7001";
const NEW = "127.0.0.1:7101";

function startNode() {
  const running = new Set<string>();
  const machine = nodeMachine.provide({
    actors: {
      listener: fromCallback(() => () => {}),
      inbound: fromCallback(() => () => {}),
      // A link that dials nothing: the test reports its states; it is running until stopped.
      peerLink: fromCallback(({ input }: { input: { addr: string } }) => {
        running.add(input.addr);
        return () => running.delete(input.addr);
      }) as never,
    },
  });
  const node = createActor(machine, {
    input: {
      self: { nodeId: SELF, clusterId: "c".repeat(32), listenAddr: "127.0.0.1:7000" },
      timing: { heartbeatMs: 1_000, failureTimeoutMs: 5_000 } as never,
      known: [{ addr: OLD }],
    },
  });
  node.start();
  const report = (addr: string, state: LinkReport["state"]) =>
    node.send({ type: "link.state", addr, nodeId: PEER, listenAddr: addr, state, rttMs: 1, reason: null });
  const connectsFrom = (listenAddr: string) =>
    node.send({
      type: "inbound.opened",
      conn: { close() {} } as unknown as Connection,
      hello: { t: "hello", protocol: 1, clusterId: "c".repeat(32), role: "node", nodeId: PEER, listenAddr },
    });
  const member = () => node.getSnapshot().context.members[PEER];
  return { node, running, report, connectsFrom, member };
}

describe("a member that comes back on another address", () => {
  it("is dialled at the new address while the old one retries, and followed there once it answers", () => {
    const { node, running, report, connectsFrom, member } = startNode();
    report(OLD, "alive");
    report(OLD, "down");
    expect(member()).toMatchObject({ addr: OLD, state: "down" });

    connectsFrom(NEW);
    expect([...running].sort()).toEqual([OLD, NEW].sort());
    // The old address failing again changes nothing; the new one answering moves the member.
    report(OLD, "down");
    expect(member()).toMatchObject({ addr: OLD, state: "down" });
    report(NEW, "alive");
    expect(member()).toMatchObject({ addr: NEW, state: "alive" });
    expect([...running]).toEqual([NEW]);
    expect(node.getSnapshot().context.links).toEqual({ [NEW]: `link:${NEW}` });
    node.stop();
  });

  it("keeps the first link of an alive member and drops a second address", () => {
    const { node, running, report, connectsFrom, member } = startNode();
    report(OLD, "alive");
    connectsFrom(NEW); // alive: no second link is dialled
    expect([...running]).toEqual([OLD]);
    node.send({ type: "members.discovered", members: [{ addr: NEW }] });
    report(NEW, "alive");
    expect(member()).toMatchObject({ addr: OLD, state: "alive" });
    expect([...running]).toEqual([OLD]);
    node.stop();
  });
});
