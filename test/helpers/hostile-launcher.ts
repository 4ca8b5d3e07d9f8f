// Starts test/helpers/hostile-node.ts as a real process (with tsx) holding node certificate `cert` of a
// test cluster and dialling real node `target`; resolves once it printed `ready`. `killHostiles` stops
// every one started, for a test's teardown.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type TestCluster, waitFor } from "./cluster-harness.ts";

const HOSTILE = fileURLToPath(new URL("./hostile-node.ts", import.meta.url));
const started: ChildProcess[] = [];

export interface HostileNode {
  proc: ChildProcess;
  output: string[];
}

export async function startHostile(
  cluster: TestCluster,
  opts: { cert: string; target: number; args: string[]; ready: string },
): Promise<HostileNode> {
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      HOSTILE,
      cluster.clusterDir,
      opts.cert,
      cluster.addrs[opts.target] as string,
      ...opts.args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  started.push(proc);
  const output: string[] = [];
  proc.stdout?.on("data", (b: Buffer) => output.push(b.toString()));
  proc.stderr?.on("data", (b: Buffer) => output.push(b.toString()));
  await waitFor(`the hostile node to say ${opts.ready}`, () => {
    if (output.join("").includes(opts.ready)) return true;
    if (proc.exitCode !== null) throw new Error(`the hostile node exited: ${output.join("")}`);
    return false;
  });
  return { proc, output };
}

/**
 * Pushes `victim`'s entry carrying `donor`'s file key, manifest id and size (by path id) to node
 * `target`, or only its manifest id with `manifestOnly`.
 */
export async function pushSwappedEntry(
  cluster: TestCluster,
  opts: { cert: string; target: number; victim: string; donor: string; manifestOnly?: boolean },
): Promise<void> {
  const { proc } = await startHostile(cluster, {
    cert: opts.cert,
    target: opts.target,
    args: ["push-swap", opts.victim, opts.donor, ...(opts.manifestOnly ? ["manifest-only"] : [])],
    ready: "pushed",
  });
  await waitFor("the hostile node to exit after its push", () => proc.exitCode === 0);
}

export function killHostiles(): void {
  for (const p of started.splice(0)) p.kill("SIGKILL");
}
