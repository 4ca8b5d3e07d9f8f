// `dmfs monitor` and `dmfs demo` in a real terminal: tmux runs them against real node processes, and the
// test reads the screen, kills nodes, presses keys, and checks the exit status and the terminal after.
// The file runs its own tmux server (-S, a socket in a temp dir), killed at the end with every session.
// Set DMFS_UPDATE_DOCS=1 to rewrite docs/monitor-80x24.txt and docs/monitor-160x48.txt from this run.
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, freePort, REPO, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const run = promisify(execFile);
/** Nodes started with --listen use a 5 s failure timeout. */
const FAILURE_TIMEOUT_MS = 5_000;

const tmuxCheck = spawnSync("tmux", ["-V"], { encoding: "utf8" });
const haveTmux = tmuxCheck.status === 0;
if (!haveTmux) {
  console.log(
    `skipping the tmux tests of dmfs monitor: \`tmux -V\` failed (${tmuxCheck.error?.message ?? tmuxCheck.stderr})`,
  );
}

/** Holds the tmux server's socket and the file where each session's command leaves its exit status. */
let statusDir = "";

/** Runs a tmux command on this file's own server, which knows nothing of any other tmux in use. */
async function tmux(...args: string[]): Promise<string> {
  const { stdout } = await run("tmux", ["-S", join(statusDir, "tmux.sock"), "-f", "/dev/null", ...args]);
  return stdout;
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

beforeAll(async () => {
  statusDir = await mkdtemp(join(tmpdir(), "dmfs-tmux-"));
});

afterAll(async () => {
  await tmux("kill-server").catch(() => undefined);
  await rm(statusDir, { recursive: true, force: true });
});

/**
 * Starts `dmfs <args>` in a new detached session of the given size. A shell around it writes its exit
 * status to a file (tmux here does not always learn a node process's own status) and then keeps the pane
 * open, so that the terminal state the command left behind can still be read. CI=true is set on
 * purpose: the monitor must draw live even where that variable is set (Ink alone would not).
 */
async function startInTmux(
  session: string,
  columns: number,
  rows: number,
  args: string[],
  env: string[] = [],
): Promise<void> {
  const dmfs = ["env", "CI=true", ...env, process.execPath, CLI, ...args].map(quote);
  const command = `${dmfs.join(" ")}; echo $? > ${quote(join(statusDir, session))}; exec sleep 600`;
  await tmux("new-session", "-d", "-s", session, "-x", String(columns), "-y", String(rows), command);
}

const screen = (session: string) => tmux("capture-pane", "-p", "-t", session);
const pane = async (session: string, format: string) =>
  (await tmux("display-message", "-p", "-t", session, format)).trim();
const rowOf = (text: string, shortId: string) =>
  text.split("\n").find((l) => l.includes(` ${shortId} `)) ?? "";
const width = (line: string) => [...line].length;
/** Columns of the "in" sparkline above its baseline: the seconds with traffic shown. */
const trafficSeconds = (text: string) => (text.match(/ in {2}(\S+)/)?.[1]?.match(/[▂▃▄▅▆▇█]/g) ?? []).length;

/** Polls the session's screen until `ready` holds for it, and returns that screen. */
async function screenWhen(
  session: string,
  what: string,
  ready: (text: string) => boolean,
  timeoutMs?: number,
): Promise<string> {
  let text = "";
  await waitFor(
    what,
    async () => {
      text = await screen(session);
      return ready(text);
    },
    timeoutMs,
  );
  return text;
}

const allAlive = (ids: string[]) => (text: string) => ids.every((id) => / alive /.test(rowOf(text, id)));

/** Waits until the session's command has exited; returns its exit status. */
async function waitForExit(session: string): Promise<string> {
  const status = await waitFor(`the ${session} session's command to exit`, () =>
    readFile(join(statusDir, session), "utf8").catch(() => ""),
  );
  return status.trim();
}

describe("dmfs monitor without a terminal", () => {
  it("exits with status 2 and points to dmfs status --json", async () => {
    const result = await run(process.execPath, [CLI, "monitor", "--node", "127.0.0.1:1"]).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect("code" in result ? result.code : 0).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      "dmfs: the monitor needs a terminal (stdout is not one); for scripts use `dmfs status --json`.",
    ]);
  });
});

describe.skipIf(!haveTmux)("dmfs monitor in tmux", () => {
  let cluster: TestCluster | undefined;
  let ids: string[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.create([{}, { join: [0] }, { join: [0, 1] }]);
    await cluster.startAll();
    const c = cluster;
    await waitFor("node 0 to see both peers alive", async () => {
      const states = Object.values(await c.peerStates(0));
      return states.length === 2 && states.every((s) => s === "alive");
    });
    ids = await Promise.all([0, 1, 2].map(async (i) => (await c.status(i)).nodeId.slice(0, 8)));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const monitorArgs = (i: number) => [
    "monitor",
    "--node",
    cluster?.addrs[i] ?? "",
    "--cluster",
    cluster?.clusterDir ?? "",
  ];

  it("fits 80x24 without colour and uses 160x48 in colour (and writes the docs' screenshots when asked)", async () => {
    await startInTmux("small", 80, 24, monitorArgs(1), ["NO_COLOR=1"]);
    await startInTmux("large", 160, 48, monitorArgs(1));
    const sizes = [
      ["small", 80, 24],
      ["large", 160, 48],
    ] as const;
    for (const [session] of sizes) await screenWhen(session, "3 alive nodes", allAlive(ids));
    // A client that does not speak TLS: node 1 counts the failed handshake, and the monitors log it.
    const garbage = connect(Number(cluster?.addrs[1]?.split(":")[1]), "127.0.0.1", () => {
      garbage.end("GET / HTTP/1.0\r\n\r\n");
    });
    garbage.on("error", () => undefined);
    for (const [session, columns, rows] of sizes) {
      // Every row complete (no "-"): each member's own figures and rates arrived over its own link.
      const text = await screenWhen(
        session,
        "the rejected connection logged and every node's figures",
        (t) => t.includes("E_TLS_HANDSHAKE") && ids.every((id) => !/ - /.test(rowOf(t, id))),
      );
      const lines = text.replace(/\n+$/, "").split("\n");
      expect(Math.max(...lines.map(width))).toBeLessThanOrEqual(columns);
      expect(lines.length).toBeLessThan(rows);
      for (const [i, id] of ids.entries()) expect(rowOf(text, id)).toContain(cluster?.addrs[i]);
      if (process.env.DMFS_UPDATE_DOCS === "1") {
        // The docs show some seconds of traffic on the sparklines.
        const shot = await screenWhen(
          session,
          "ten seconds of traffic",
          (t) => trafficSeconds(t) >= 10,
          30_000,
        );
        const file = join(REPO, "docs", `monitor-${columns}x${rows}.txt`);
        await writeFile(
          file,
          `${shot
            .trimEnd()
            .split("\n")
            .map((l) => l.trimEnd())
            .join("\n")}\n`,
        );
      }
    }
    // With NO_COLOR not one escape sequence reaches the terminal (capture-pane -e would show it).
    expect(await tmux("capture-pane", "-e", "-p", "-t", "small")).not.toContain("\u001B[");
    expect(await tmux("capture-pane", "-e", "-p", "-t", "large")).toContain("\u001B[");
    await tmux("send-keys", "-t", "small", "q");
    await tmux("send-keys", "-t", "large", "q");
    expect(await waitForExit("small")).toBe("0");
    expect(await waitForExit("large")).toBe("0");
  }, 60_000);

  it("sees a killed node go down, moves off a dead gateway, and quits on q with the terminal restored", async () => {
    const c = cluster;
    if (!c) throw new Error("the cluster did not start");
    await startInTmux("live", 120, 40, monitorArgs(0));
    await screenWhen("live", "3 alive nodes", allAlive(ids));
    // Ink hides the cursor; the monitor draws on the alternate screen.
    expect(await pane("live", "#{alternate_on} #{cursor_flag}")).toBe("1 0");

    const killedAt = Date.now();
    await c.kill(2);
    await screenWhen(
      "live",
      "node 2's row to say down",
      (t) => / down /.test(rowOf(t, ids[2] ?? "")),
      FAILURE_TIMEOUT_MS + 3_000,
    );
    expect(Date.now() - killedAt).toBeLessThan(FAILURE_TIMEOUT_MS + 3_000);

    await c.kill(0);
    const after = await screenWhen(
      "live",
      "the monitor to move to node 1",
      (t) => t.includes(`via ${c.addrs[1]}`) && / down /.test(rowOf(t, ids[0] ?? "")),
    );
    expect(after).toMatch(/lost gateway/);
    expect(after).toContain("nodes 1/3 alive");

    await tmux("send-keys", "-t", "live", "q");
    expect(await waitForExit("live")).toBe("0");
    // Back on the normal screen, with the cursor shown: the monitor's frame is gone from view.
    expect(await pane("live", "#{alternate_on} #{cursor_flag}")).toBe("0 1");
    expect(await screen("live")).not.toContain("DMFS monitor");
  }, 60_000);
});

describe.skipIf(!haveTmux)("dmfs demo in tmux", () => {
  let dir: string | undefined;

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("creates and starts the cluster, uploads the sample, opens the monitor and stops the nodes on q", async () => {
    dir = await mkdtemp(join(tmpdir(), "dmfs-demo-"));
    const ports = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, "demo.yaml");
    await writeFile(
      config,
      [
        "cluster:",
        "  dir: ./cluster",
        "servers:",
        ...ports.map(
          (port, i) =>
            `  - { listenAddr: "127.0.0.1:${port}", root: "./data/server${i}", nodes: [${ports
              .slice(0, i)
              .map((p) => `":${p}"`)
              .join(", ")}] }`,
        ),
      ].join("\n"),
    );
    await startInTmux("demo", 100, 30, ["demo", "--config", config]);
    await screenWhen(
      "demo",
      "the monitor with all three nodes alive",
      (t) => t.includes("nodes 3/3 alive"),
      30_000,
    );
    // The sample upload is in the catalog the monitor shows.
    await screenWhen("demo", "the sample file counted", (t) => t.includes("files 1"), 10_000);
    await tmux("send-keys", "-t", "demo", "q");
    expect(await waitForExit("demo")).toBe("0");
    // Every node was stopped: their logs end with the node's own goodbye and nobody listens any more.
    for (const i of [0, 1, 2]) {
      const log = await readFile(join(dir, "data", `server${i}.log`), "utf8");
      // On failure the message carries the log's tail: a crash on the way down is only seen there.
      expect(log.trim().split("\n").at(-1), log.split("\n").slice(-40).join("\n")).toContain('"stopped"');
    }
    for (const port of ports) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.destroy();
          resolve(false);
        });
        s.on("error", () => resolve(true));
      });
      expect(refused).toBe(true);
    }
  }, 60_000);
});
