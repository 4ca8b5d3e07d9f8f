import { assert, describe, expect, it } from "vitest";
import {
  applyGatewayStatus,
  applyNodeStatus,
  type ClusterModel,
  emptyModel,
  freshFigures,
  gatewayConnected,
  gatewayLost,
  MAX_EVENTS,
  type NodeView,
  STALE_AFTER_MS,
  summarize,
} from "../../src/tui/cluster-model.ts";
import { addTraffic, KEEP_SECONDS, recentSeries } from "../../src/tui/throughput-history.ts";
import { allAliveGateway, CLUSTER_ID, NODES, nodeStatus } from "../helpers/status-fixtures.ts";

const T0 = 1_700_000_000_000;
const [N0, N1, N2] = NODES;

/** A model connected to node 0 that has seen one all-alive status from it at T0. */
function watching(): ClusterModel {
  const connected = gatewayConnected(emptyModel(T0), { addr: N0.addr, nodeId: N0.nodeId }, T0);
  return applyGatewayStatus(connected, allAliveGateway(), T0);
}

const texts = (m: ClusterModel) => m.events.map((e) => `${e.kind}: ${e.text}`);
const stateOf = (m: ClusterModel, nodeId: string) => m.nodes.find((n) => n.nodeId === nodeId)?.state;

function nodeIn(m: ClusterModel, nodeId: string): NodeView {
  const node = m.nodes.find((n) => n.nodeId === nodeId);
  assert(node, `node ${nodeId} is in the model`);
  return node;
}

describe("the gateway's member list", () => {
  it("lists every member sorted by address, the gateway itself alive, with one summary event", () => {
    const m = watching();
    expect(m.clusterId).toBe(CLUSTER_ID);
    expect(m.nodes.map((n) => [n.addr, n.state, n.isGateway])).toEqual([
      [N0.addr, "alive", true],
      [N1.addr, "alive", false],
      [N2.addr, "alive", false],
    ]);
    expect(texts(m)).toEqual([
      "gateway: watching through gateway 127.0.0.1:8000 (aaaa0000)",
      "gateway: the cluster has 3 members, 3 alive",
    ]);
  });

  it("logs each state change: suspect, down, and back", () => {
    let m = watching();
    m = applyGatewayStatus(m, nodeStatus({ self: 0, peers: { 1: "suspect", 2: "alive" } }), T0 + 1_000);
    m = applyGatewayStatus(m, nodeStatus({ self: 0, peers: { 1: "down", 2: "alive" } }), T0 + 2_000);
    m = applyGatewayStatus(m, nodeStatus({ self: 0, peers: { 1: "down", 2: "alive" } }), T0 + 3_000);
    expect(stateOf(m, N1.nodeId)).toBe("down");
    m = applyGatewayStatus(m, allAliveGateway(), T0 + 4_000);
    expect(texts(m).slice(2)).toEqual([
      "suspect: node bbbb1111 (127.0.0.1:8001) missed heartbeats",
      "down: node bbbb1111 (127.0.0.1:8001) is down",
      "alive: node bbbb1111 (127.0.0.1:8001) is back, was down",
    ]);
    expect(m.events.map((e) => e.at).slice(2)).toEqual([T0 + 1_000, T0 + 2_000, T0 + 4_000]);
  });

  it("logs a member that joins after the first list", () => {
    const start = applyGatewayStatus(emptyModel(T0), nodeStatus({ self: 0, peers: { 1: "alive" } }), T0);
    const m = applyGatewayStatus(start, allAliveGateway(), T0 + 1_000);
    expect(texts(m).at(-1)).toBe("joined: node cccc2222 (127.0.0.1:8002) joined, alive");
  });
});

describe("losing and replacing the gateway", () => {
  it("takes the lost gateway for down at once, then logs the switch to the next one", () => {
    let m = gatewayLost(watching(), T0 + 1_000);
    expect(m.gateway).toEqual({ state: "lost", addr: N0.addr, since: T0 + 1_000 });
    expect(stateOf(m, N0.nodeId)).toBe("down");
    expect(m.nodes.some((n) => n.isGateway)).toBe(false);
    m = gatewayConnected(m, { addr: N1.addr, nodeId: N1.nodeId }, T0 + 1_200);
    // The new gateway confirms node 0 is down: no second "down" event.
    m = applyGatewayStatus(m, nodeStatus({ self: 1, peers: { 0: "down", 2: "alive" } }), T0 + 1_300);
    expect(texts(m).slice(2)).toEqual([
      "gateway: lost gateway 127.0.0.1:8000; trying the other nodes",
      "down: node aaaa0000 (127.0.0.1:8000) is unreachable",
      "gateway: switched to gateway 127.0.0.1:8001 (bbbb1111)",
    ]);
    expect(m.nodes.find((n) => n.isGateway)?.nodeId).toBe(N1.nodeId);
  });

  it("ignores a second loss while not connected", () => {
    const lost = gatewayLost(watching(), T0 + 1_000);
    expect(gatewayLost(lost, T0 + 2_000)).toBe(lost);
  });
});

describe("each node's own figures", () => {
  it("computes in/out rates from counter deltas over the time between reports", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 1, bytesIn: 1_000, bytesOut: 5_000 }), T0);
    const first = nodeIn(m, N1.nodeId).figures;
    expect([first?.inRate, first?.outRate]).toEqual([null, null]);
    m = applyNodeStatus(m, nodeStatus({ self: 1, bytesIn: 3_001_000, bytesOut: 6_005_000 }), T0 + 2_000);
    const second = nodeIn(m, N1.nodeId).figures;
    expect([second?.inRate, second?.outRate]).toEqual([1_500_000, 3_000_000]);
  });

  it("keeps a second report from the same millisecond for later instead of losing its traffic", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 1, bytesIn: 0 }), T0);
    const unchanged = m;
    m = applyNodeStatus(m, nodeStatus({ self: 1, bytesIn: 500 }), T0);
    expect(m).toBe(unchanged);
    m = applyNodeStatus(m, nodeStatus({ self: 1, bytesIn: 1_000 }), T0 + 1_000);
    expect(nodeIn(m, N1.nodeId).figures?.inRate).toBe(1_000);
  });

  it("starts over without negative rates when a node restarts, and says so", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 1, bytesIn: 9_000, startedAt: 1_000 }), T0);
    m = applyNodeStatus(m, nodeStatus({ self: 1, bytesIn: 100, startedAt: 5_000 }), T0 + 1_000);
    const figures = nodeIn(m, N1.nodeId).figures;
    expect(figures?.inRate).toBeNull();
    expect(texts(m).at(-1)).toBe("restarted: node bbbb1111 (127.0.0.1:8001) restarted");
  });

  it("logs rejected frames by reason, only when a counter grows", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 2, framesRejected: { E_UNAUTHORIZED: 1 } }), T0);
    m = applyNodeStatus(
      m,
      nodeStatus({ self: 2, framesRejected: { E_UNAUTHORIZED: 1, E_FRAME_TOO_LARGE: 2 } }),
      T0 + 1_000,
    );
    m = applyNodeStatus(
      m,
      nodeStatus({ self: 2, framesRejected: { E_UNAUTHORIZED: 4, E_FRAME_TOO_LARGE: 2 } }),
      T0 + 2_000,
    );
    expect(texts(m).slice(2)).toEqual([
      "rejected: node cccc2222 (127.0.0.1:8002): 2× E_FRAME_TOO_LARGE",
      "rejected: node cccc2222 (127.0.0.1:8002): 3× E_UNAUTHORIZED",
    ]);
  });

  it("logs uploads, reads and deletes a node served since its last report", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 1, uploads: 1 }), T0);
    m = applyNodeStatus(m, nodeStatus({ self: 1, uploads: 2, reads: 3, deletes: 0 }), T0 + 1_000);
    expect(texts(m).at(-1)).toBe("activity: node bbbb1111 (127.0.0.1:8001): 1 upload, 3 reads");
  });

  it("ignores a status from a node the gateway does not list", () => {
    const start = applyGatewayStatus(emptyModel(T0), nodeStatus({ self: 0, peers: { 1: "alive" } }), T0);
    expect(applyNodeStatus(start, nodeStatus({ self: 2 }), T0)).toBe(start);
  });

  it("treats figures as current only while recent and while the node is not down", () => {
    let m = applyNodeStatus(watching(), nodeStatus({ self: 1 }), T0);
    expect(freshFigures(nodeIn(m, N1.nodeId), T0 + STALE_AFTER_MS)).not.toBeNull();
    expect(freshFigures(nodeIn(m, N1.nodeId), T0 + STALE_AFTER_MS + 1)).toBeNull();
    m = applyGatewayStatus(m, nodeStatus({ self: 0, peers: { 1: "down", 2: "alive" } }), T0 + 10);
    expect(freshFigures(nodeIn(m, N1.nodeId), T0 + 10)).toBeNull();
  });
});

describe("the cluster summary", () => {
  it("counts alive nodes and sums stored bytes over the nodes that are not down", () => {
    let m = watching();
    m = applyNodeStatus(m, nodeStatus({ self: 1, bytes: 300 }), T0);
    m = applyNodeStatus(m, nodeStatus({ self: 2, bytes: 4_000 }), T0);
    m = applyGatewayStatus(m, allAliveGateway({ bytes: 20 }), T0 + 1);
    expect(summarize(m)).toMatchObject({ alive: 3, total: 3, bytesStored: 4_320 });
    m = applyGatewayStatus(m, nodeStatus({ self: 0, peers: { 1: "alive", 2: "down" }, bytes: 20 }), T0 + 2);
    expect(summarize(m)).toMatchObject({ alive: 2, total: 3, bytesStored: 320 });
  });

  it("has no under-replicated figure until a node has run a repair scan, then sums them", () => {
    let m = watching();
    expect(summarize(m).underReplicated).toBeNull();
    m = applyNodeStatus(m, nodeStatus({ self: 1, underReplicated: 2 }), T0);
    m = applyNodeStatus(m, nodeStatus({ self: 2, underReplicated: 5 }), T0);
    expect(summarize(m).underReplicated).toBe(7);
  });

  it("has no stored figure before any node reported", () => {
    expect(summarize(emptyModel(T0))).toEqual({
      alive: 0,
      total: 0,
      bytesStored: null,
      underReplicated: null,
      repair: { misplaced: null, bytesToMove: null, etaSeconds: null },
    });
  });
});

describe("the event log", () => {
  it("keeps the newest MAX_EVENTS events with ids that keep counting", () => {
    let m = watching();
    for (let i = 1; i <= MAX_EVENTS; i++) {
      m = applyGatewayStatus(
        m,
        nodeStatus({ self: 0, peers: { 1: i % 2 ? "down" : "alive", 2: "alive" } }),
        T0 + i,
      );
    }
    expect(m.events).toHaveLength(MAX_EVENTS);
    expect(m.events.at(-1)?.id).toBe(MAX_EVENTS + 2);
    expect(m.events[0]?.id).toBe(3);
  });
});

describe("throughput history", () => {
  it("spreads traffic over the seconds an interval covers", () => {
    // 1.5 s interval from x.500 to (x+2).000: a third in the first second, two thirds in the second.
    const h = addTraffic([], T0 + 500, T0 + 2_000, 3_000, 300);
    expect(recentSeries(h, T0 + 2_000, 3)).toEqual({ bytesIn: [0, 1_000, 2_000], bytesOut: [0, 100, 200] });
  });

  it("adds traffic of several nodes in the same second", () => {
    let h = addTraffic([], T0, T0 + 1_000, 100, 10);
    h = addTraffic(h, T0, T0 + 1_000, 50, 5);
    expect(recentSeries(h, T0 + 1_000, 1)).toEqual({ bytesIn: [150], bytesOut: [15] });
  });

  it("keeps at most KEEP_SECONDS seconds however long the interval", () => {
    const h = addTraffic([], T0, T0 + 1_000_000, 1_000_000, 0);
    expect(h).toHaveLength(KEEP_SECONDS);
    expect(h.at(-1)?.second).toBe((T0 + 1_000_000) / 1000 - 1);
  });

  it("shows only complete seconds, zero where there was no traffic", () => {
    const h = addTraffic([], T0, T0 + 1_000, 7, 7);
    expect(recentSeries(h, T0 + 1_500, 2).bytesIn).toEqual([0, 7]);
    expect(recentSeries(h, T0 + 3_000, 2).bytesIn).toEqual([0, 0]);
  });
});
