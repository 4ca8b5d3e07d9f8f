// `dmfs demo`: the whole demo in one command - creates the cluster if it is missing, runs the config's
// nodes as child processes (as `dmfs up` does, their logs in files), waits until all are alive, then
// opens the monitor in this terminal. Quitting the monitor stops the nodes.
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { addNode, initCluster, loadIdentity } from "../cluster/cluster-dir.ts";
import { type Config, loadConfig, nodeBundleDir } from "../config/config.ts";
import { DmfsError, isDmfsError } from "../errors.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import { DEFAULT_CONFIG } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { type MonitorTarget, requireTerminal, runMonitor } from "./monitor.ts";
import { type Child, serverArgs, serverName, startChild, stopChildren } from "./up.ts";

const ALL_ALIVE_TIMEOUT_MS = 30_000;
/** The path the demo's sample file is stored under (`dmfs read samples/hello.txt`). */
export const SAMPLE_PATH = "samples/hello.txt";
const POLL_MS = 250;

export function demoCommand(): Command {
  return new Command("demo")
    .description("create and start the demo cluster, then watch it in the monitor; q stops everything")
    .option("-c, --config <file>", "cluster config", DEFAULT_CONFIG)
    .action(async (o: { config: string }) => {
      requireTerminal();
      const config = loadConfig(o.config);
      await ensureCluster(config);
      const target: MonitorTarget = {
        addrs: config.servers.map((s) => s.listenAddr),
        identity: await loadIdentity(config.cluster.dir, "client"),
        chunkSize: config.cluster.chunkSize,
      };
      const nodes = await startNodes(config);
      // A signal while waiting ends the wait; the monitor handles its own, and finally stops the nodes.
      const interrupted = new AbortController();
      const interrupt = () => interrupted.abort();
      process.once("SIGINT", interrupt);
      process.once("SIGTERM", interrupt);
      try {
        await waitUntilAllAlive(target, nodes, interrupted.signal);
        await uploadSample(o.config);
        await runMonitor(target);
      } finally {
        process.off("SIGINT", interrupt);
        process.off("SIGTERM", interrupt);
        say(`stopping ${nodes.length} nodes`);
        await stopChildren(nodes);
      }
    });
}

function say(line: string): void {
  process.stdout.write(`dmfs demo: ${line}\n`);
}

/**
 * Creates the config's cluster with one node bundle per server, unless it is there; a server without
 * its bundle (a cluster made before node bundles, or a server added to the config) gets one issued
 * from the CA, so the data key and the files stay.
 */
async function ensureCluster(config: Config): Promise<void> {
  try {
    await loadIdentity(config.cluster.dir, "client");
  } catch (err) {
    if (!isDmfsError(err, "E_CLUSTER_MISSING")) throw err;
    say(`creating the cluster in ${config.cluster.dir}`);
    await initCluster({ dir: config.cluster.dir, nodes: config.servers.length });
    return;
  }
  for (const index of config.servers.keys()) {
    const out = nodeBundleDir(config, index);
    if (existsSync(join(out, "node.crt"))) continue;
    say(`issuing a node bundle for server ${index} in ${out}`);
    await addNode({ dir: config.cluster.dir, name: `node-${index}`, out });
  }
}

interface DemoNode extends Child {
  log: string;
}

/** Starts every server; each one's output goes to `<root>.log` beside its root, not to the screen. */
async function startNodes(config: Config): Promise<DemoNode[]> {
  const nodes: DemoNode[] = [];
  for (const [i, server] of config.servers.entries()) {
    const log = `${server.root}.log`;
    await mkdir(dirname(log), { recursive: true });
    const fd = openSync(log, "a");
    try {
      nodes.push({ ...startChild(serverArgs(config, i, "info"), serverName(config, i), fd), log });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    say(`started ${serverName(config, i)}, log in ${log}`);
  }
  return nodes;
}

/** A few chunks' worth of text, uploaded so the monitor has a file, chunks and traffic to show. */
async function uploadSample(configFile: string): Promise<void> {
  const lines = Array.from(
    { length: 60_000 },
    (_, i) => `line ${i}: DMFS keeps this sample on three nodes.\n`,
  );
  const sample = Buffer.from(lines.join(""));
  await withFileClient({ config: configFile }, (files) =>
    files.upload(Readable.from([sample]), SAMPLE_PATH, Date.now()),
  );
}

async function waitUntilAllAlive(
  target: MonitorTarget,
  nodes: DemoNode[],
  signal: AbortSignal,
): Promise<void> {
  say(`waiting until all ${nodes.length} nodes see each other alive`);
  const deadline = Date.now() + ALL_ALIVE_TIMEOUT_MS;
  let client: NodeClient | undefined;
  try {
    for (;;) {
      const dead = nodes.find((c) => c.proc.exitCode !== null || c.proc.signalCode !== null);
      if (dead) {
        throw new DmfsError("E_IO", `${dead.name} exited before the cluster came up; see ${dead.log}.`, {
          subject: dead.name,
        });
      }
      if (signal.aborted) throw new DmfsError("E_USAGE", "interrupted before the cluster came up.");
      try {
        client ??= await NodeClient.connect(target.addrs, {
          identity: target.identity,
          chunkSize: target.chunkSize,
        });
        if (allAlive(await client.status(), nodes.length)) return;
      } catch {
        // Not listening yet, or a node restarting: the next round asks again.
        client?.close();
        client = undefined;
      }
      if (Date.now() > deadline) {
        throw new DmfsError(
          "E_TIMEOUT",
          `the nodes did not all become alive within ${ALL_ALIVE_TIMEOUT_MS / 1000} s.`,
        );
      }
      await delay(POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    client?.close();
  }
}

function allAlive(status: NodeStatus, expected: number): boolean {
  return (
    status.members.length >= expected &&
    status.members.every((m) => m.state === "alive" || m.state === "self")
  );
}
