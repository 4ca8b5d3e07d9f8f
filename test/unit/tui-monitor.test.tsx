import { render } from "ink-testing-library";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { ModelSource } from "../../src/tui/cluster-feed.ts";
import {
  applyGatewayStatus,
  applyNodeStatus,
  type ClusterModel,
  emptyModel,
  gatewayConnected,
} from "../../src/tui/cluster-model.ts";
import { MonitorApp } from "../../src/tui/monitor-app.tsx";
import { MonitorView } from "../../src/tui/monitor-view.tsx";
import { colorWanted, makeTheme, ThemeContext } from "../../src/tui/theme.ts";
import { initialUiState, type UiState } from "../../src/tui/ui-state.ts";
import { allAliveGateway, NODES, nodeStatus } from "../helpers/status-fixtures.ts";

// Ink's chalk decides on colour when it is loaded; forcing it on makes "no colour" a real difference.
vi.hoisted(() => {
  process.env.FORCE_COLOR = "3";
});
afterAll(() => {
  delete process.env.FORCE_COLOR;
});

const [N0, N1] = NODES;
const ESC = "\u001B";

/** A cluster of three alive nodes watched through node 0, with each node's own figures reported twice. */
function aliveCluster(now: number): ClusterModel {
  let m = gatewayConnected(emptyModel(now - 2_000), { addr: N0.addr, nodeId: N0.nodeId }, now - 2_000);
  for (const [at, traffic] of [
    [now - 2_000, 0],
    [now - 1_000, 2_000_000],
  ] as const) {
    m = applyGatewayStatus(
      m,
      allAliveGateway({ chunks: 3, bytes: 3 * 1024 ** 2, files: 4, bytesIn: traffic }),
      at,
    );
    m = applyNodeStatus(m, nodeStatus({ self: 1, chunks: 12, bytes: 12 * 1024 ** 2, bytesOut: traffic }), at);
    m = applyNodeStatus(m, nodeStatus({ self: 2, chunks: 7, bytes: 7 * 1024 ** 2 }), at);
  }
  return m;
}

function view(
  model: ClusterModel,
  size: { columns: number; rows: number },
  opts: { color?: boolean; ui?: UiState } = {},
) {
  return (
    <ThemeContext.Provider value={makeTheme(opts.color ?? false)}>
      <MonitorView model={model} ui={opts.ui ?? initialUiState} now={Date.now()} {...size} />
    </ThemeContext.Provider>
  );
}

const lineWith = (frame: string | undefined, text: string) =>
  frame?.split("\n").find((l) => l.includes(text)) ?? "";
const width = (line: string) => [...line].length;

/** The model source the app reads from, set by hand: the feed's interface without the network. */
class SettableSource implements ModelSource {
  readonly listeners = new Set<() => void>();
  constructor(private model: ClusterModel) {}
  getModel = () => this.model;
  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  set(model: ClusterModel): void {
    this.model = model;
    for (const l of this.listeners) l();
  }
}

describe("the monitor screen", () => {
  it("shows the header totals and a row per node with its state, RTT, chunks, bytes and rates", () => {
    const { lastFrame } = render(view(aliveCluster(Date.now()), { columns: 100, rows: 30 }));
    const frame = lastFrame();
    expect(frame).toContain("cluster c1c1c1c1");
    expect(frame).toContain("via 127.0.0.1:8000");
    expect(lineWith(frame, "nodes ")).toMatch(
      /nodes 3\/3 alive +stored 22\.0 MiB +files 4 +under-replicated -/,
    );
    expect(lineWith(frame, "aaaa0000")).toMatch(
      /127\.0\.0\.1:8000 +alive +gateway +3 +3\.0 MiB +2\.00 +0\.00/,
    );
    expect(lineWith(frame, "bbbb1111")).toMatch(
      /127\.0\.0\.1:8001 +alive +0\.5 ms +12 +12\.0 MiB +0\.00 +2\.00/,
    );
    expect(lineWith(frame, "cccc2222")).toMatch(/127\.0\.0\.1:8002 +alive +0\.5 ms +7 +7\.0 MiB/);
  });

  it("changes a node's state word when it goes down, and logs it", () => {
    const now = Date.now();
    const before = aliveCluster(now);
    const after = applyGatewayStatus(before, nodeStatus({ self: 0, peers: { 1: "alive", 2: "down" } }), now);
    const { lastFrame, rerender } = render(view(before, { columns: 100, rows: 30 }));
    expect(lineWith(lastFrame(), "cccc2222")).toContain("alive");
    rerender(view(after, { columns: 100, rows: 30 }));
    const row = lineWith(lastFrame(), "cccc2222 ");
    expect(row).toMatch(/127\.0\.0\.1:8002 +down /);
    expect(row).not.toContain("alive");
    expect(lastFrame()).toContain("2/3 alive");
    expect(lastFrame()).toMatch(/down +node cccc2222 \(127\.0\.0\.1:8002\) is down/);
  });

  it("uses no escape sequences at all without colour, and colour when allowed", () => {
    const model = applyGatewayStatus(
      aliveCluster(Date.now()),
      nodeStatus({ self: 0, peers: { 1: "suspect", 2: "down" } }),
      Date.now(),
    );
    const plain = render(view(model, { columns: 100, rows: 30 }, { color: false })).lastFrame() ?? "";
    const coloured = render(view(model, { columns: 100, rows: 30 }, { color: true })).lastFrame() ?? "";
    expect(plain).not.toContain(ESC);
    expect(plain).toMatch(/suspect/);
    expect(coloured).toContain(`${ESC}[`);
  });

  it("follows NO_COLOR: present and not empty turns colour off", () => {
    expect(colorWanted({ NO_COLOR: "1" })).toBe(false);
    expect(colorWanted({ NO_COLOR: "" })).toBe(true);
    expect(colorWanted({})).toBe(true);
  });

  it("fits 80x24: no line wider than 80, at most 23 lines, every node row readable", () => {
    const frame = render(view(aliveCluster(Date.now()), { columns: 80, rows: 24 })).lastFrame() ?? "";
    const lines = frame.split("\n");
    expect(Math.max(...lines.map(width))).toBeLessThanOrEqual(80);
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const n of NODES) expect(lineWith(frame, n.nodeId.slice(0, 8))).toContain(n.addr);
    expect(frame).toContain("Events");
    expect(frame).not.toContain("DISK FREE");
  });

  it("shows the details in place of the events on a small screen when asked", () => {
    const ui: UiState = { ...initialUiState, selectedNodeId: N1.nodeId, detailsOpen: true };
    const frame = render(view(aliveCluster(Date.now()), { columns: 80, rows: 24 }, { ui })).lastFrame() ?? "";
    expect(frame).toContain(N1.nodeId);
    expect(frame).toMatch(/store +12 chunks, 12\.0 MiB/);
    expect(frame).not.toContain("Events");
    expect(Math.max(...frame.split("\n").map(width))).toBeLessThanOrEqual(80);
  });

  it("names the node's BLAKE3 backend in its details on a screen with room for them", () => {
    const now = Date.now();
    const model = applyNodeStatus(aliveCluster(now), nodeStatus({ self: 2, blake3Backend: "wasm" }), now);
    const frameFor = (nodeId: string) => {
      const ui: UiState = { ...initialUiState, selectedNodeId: nodeId, detailsOpen: true };
      return render(view(model, { columns: 160, rows: 48 }, { ui })).lastFrame() ?? "";
    };
    expect(frameFor(N1.nodeId)).toMatch(/blake3 +native hashing in the crypto pool/);
    expect(frameFor(NODES[2].nodeId)).toMatch(/blake3 +wasm hashing in the crypto pool/);
  });

  it("says in a node's details that its disk is below its free-space reserve", () => {
    const now = Date.now();
    const model = applyNodeStatus(aliveCluster(now), nodeStatus({ self: 2, full: true }), now);
    const frameFor = (nodeId: string) => {
      const ui: UiState = { ...initialUiState, selectedNodeId: nodeId, detailsOpen: true };
      return render(view(model, { columns: 160, rows: 48 }, { ui })).lastFrame() ?? "";
    };
    expect(frameFor(NODES[2].nodeId)).toMatch(/disk free +50\.0 GiB, FULL: below its free-space reserve/);
    expect(frameFor(N1.nodeId)).not.toContain("FULL");
  });

  it("says in a node's details, right under its state, that it is read-only and why", () => {
    const now = Date.now();
    const sentence =
      "read-only: this node was out of contact with the cluster for 9 s, and meanwhile node 1a2b3c4d purged tombstones it never received, so its catalog may still hold files deleted meanwhile; run `dmfs node remove cccc2222` and add it again with `dmfs cluster add-node` to rejoin";
    const model = applyNodeStatus(aliveCluster(now), nodeStatus({ self: 2, readOnly: sentence }), now);
    const frameFor = (nodeId: string, size = { columns: 160, rows: 48 }) => {
      const ui: UiState = { ...initialUiState, selectedNodeId: nodeId, detailsOpen: true };
      return render(view(model, size, { ui })).lastFrame() ?? "";
    };
    expect(frameFor(NODES[2].nodeId)).toMatch(/read-only +READ-ONLY: missed a purge, takes no new copies│/);
    // Under the state line, so a small screen that shows only the first details lines still shows it.
    const lines = frameFor(NODES[2].nodeId).split("\n");
    const stateAt = lines.findIndex((l) => /state +alive/.test(l));
    expect(lines[stateAt + 1]).toMatch(/read-only +READ-ONLY: missed a purge/);
    expect(frameFor(NODES[2].nodeId, { columns: 80, rows: 24 })).toContain("READ-ONLY");
    expect(frameFor(N1.nodeId)).not.toContain("READ-ONLY");
  });

  it("shows what repair has left to move, with an ETA, in the header and in a node's details", () => {
    const now = Date.now();
    const repair = (misplaced: number, bytesToMove: number, etaSeconds: number | null) => ({
      misplaced,
      bytesToMove,
      bytesMoved: 3 * 1024 ** 2,
      copiesDropped: 2,
      bytesPerSecond: 1024 ** 2,
      etaSeconds,
    });
    let model = aliveCluster(now);
    // Settled: nothing to move, the header stays as it was.
    for (const self of [0, 1, 2]) {
      model = applyNodeStatus(model, nodeStatus({ self, repair: repair(0, 0, 0) }), now + 1);
    }
    const settled = render(view(model, { columns: 160, rows: 48 })).lastFrame() ?? "";
    expect(lineWith(settled, "nodes ")).not.toContain("to move");
    model = applyNodeStatus(model, nodeStatus({ self: 1, repair: repair(4, 40 * 1024 ** 2, 40) }), now + 2);
    model = applyNodeStatus(model, nodeStatus({ self: 2, repair: repair(1, 10 * 1024 ** 2, 130) }), now + 2);
    const ui: UiState = { ...initialUiState, selectedNodeId: NODES[1].nodeId, detailsOpen: true };
    const frame = render(view(model, { columns: 160, rows: 48 }, { ui })).lastFrame() ?? "";
    // The cluster's figures add up; the ETA is the slowest node's.
    expect(lineWith(frame, "nodes ")).toMatch(/misplaced 5 +to move 50\.0 MiB ETA 2m 10s/);
    expect(frame).toMatch(/moving +40\.0 MiB to move, ETA 40s, 4 misplaced/);
    expect(frame).toMatch(/moved +3\.0 MiB, 2 copies dropped since start/);
  });

  it("asks for a bigger terminal when it cannot fit", () => {
    expect(render(view(aliveCluster(Date.now()), { columns: 50, rows: 10 })).lastFrame()).toContain(
      "needs at least 60x16",
    );
  });
});

describe("the monitor app", () => {
  it("selects with j/k and the arrows, toggles details with enter, moves focus with tab", async () => {
    const source = new SettableSource(aliveCluster(Date.now()));
    const { lastFrame, stdin, unmount } = render(<MonitorApp source={source} color={false} />);
    const selectedRow = () => lineWith(lastFrame(), ">");
    expect(selectedRow()).toContain("aaaa0000");
    stdin.write("j");
    await vi.waitFor(() => expect(selectedRow()).toContain("bbbb1111"));
    stdin.write("\u001B[B"); // down arrow
    await vi.waitFor(() => expect(selectedRow()).toContain("cccc2222"));
    stdin.write("k");
    await vi.waitFor(() => expect(selectedRow()).toContain("bbbb1111"));
    stdin.write("\r");
    await vi.waitFor(() => expect(lastFrame()).toContain(N1.nodeId));
    stdin.write("\t");
    await vi.waitFor(() => expect(lastFrame()).toContain("focus: events"));
    unmount();
  });

  it("shows new snapshots as they come", async () => {
    const now = Date.now();
    const source = new SettableSource(aliveCluster(now));
    const { lastFrame, unmount } = render(<MonitorApp source={source} color={false} />);
    expect(lineWith(lastFrame(), "bbbb1111")).toContain("alive");
    source.set(
      applyGatewayStatus(
        source.getModel(),
        nodeStatus({ self: 0, peers: { 1: "suspect", 2: "alive" } }),
        now,
      ),
    );
    await vi.waitFor(() => expect(lineWith(lastFrame(), "bbbb1111 ")).toContain("suspect"));
    unmount();
  });

  it("re-lays itself out when the terminal is resized", async () => {
    const source = new SettableSource(aliveCluster(Date.now()));
    const { lastFrame, stdout, unmount } = render(<MonitorApp source={source} color={false} />);
    expect(lastFrame()).not.toContain("DISK FREE");
    Object.defineProperties(stdout, { columns: { value: 160 }, rows: { value: 48 } });
    stdout.emit("resize");
    await vi.waitFor(() => expect(lastFrame()).toContain("DISK FREE"));
    const lines = (lastFrame() ?? "").split("\n");
    expect(Math.max(...lines.map(width))).toBeLessThanOrEqual(160);
    expect(lines.length).toBeLessThanOrEqual(47);
    expect(lastFrame()).toContain("Details");
    unmount();
  });

  it.each([
    ["q", "q"],
    ["Ctrl-C", "\u0003"],
  ])("quits on %s and lets go of the model source", async (_, key) => {
    const source = new SettableSource(aliveCluster(Date.now()));
    const { stdin } = render(<MonitorApp source={source} color={false} />);
    expect(source.listeners.size).toBe(1);
    stdin.write(key);
    await vi.waitFor(() => expect(source.listeners.size).toBe(0));
  });
});
