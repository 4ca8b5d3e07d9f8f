// `dmfs gc --now`: asks every alive node to run one garbage collection pass now and prints what each
// reclaimed. Nodes also run passes on their own (cluster.gcIntervalMs); this is for operators and tests.
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { DmfsError } from "../errors.ts";
import type { MessageOf } from "../protocol/messages.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes, table } from "./format.ts";

/** A pass marks every live manifest and sweeps the whole store: allow it far more than a request. */
const PASS_TIMEOUT_MS = 10 * 60_000;

export interface GcReportJson {
  nodes: {
    id: string;
    address: string;
    reclaimedBytes: number | null;
    reclaimedChunks: number | null;
    reclaimableBytes: number | null;
    /** Why the node deleted nothing (skipped pass) or could not be asked. */
    problem: string | null;
  }[];
}

export function gcCommand(): Command {
  return addClusterOptions(
    new Command("gc").description("run one garbage collection pass on every alive node now"),
  )
    .option("--now", "run the pass now (required: nodes also collect on their own, every gcIntervalMs)")
    .option("--json", "print one JSON object")
    .action(async (o: ClusterAccessOptions & { now?: boolean; json?: boolean }) => {
      if (!o.now) throw new DmfsError("E_USAGE", "dmfs gc needs --now: nodes collect on their own otherwise");
      const access = await resolveClusterAccess(o);
      const connect = (addrs: string[]) =>
        NodeClient.connect(addrs, { identity: access.identity, chunkSize: access.chunkSize });
      const gateway = await connect(access.addrs);
      let report: GcReportJson;
      try {
        report = await collectEverywhere(gateway, (addr) => connect([addr]));
      } finally {
        gateway.close();
      }
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : render(report));
      const failed = report.nodes.filter((n) => n.problem !== null);
      if (failed.length > 0) {
        throw new DmfsError(
          "E_IO",
          `${failed.length} of ${report.nodes.length} alive nodes did not complete a pass: ${failed.map((n) => `${n.address}: ${n.problem}`).join("; ")}`,
        );
      }
    });
}

export async function collectEverywhere(
  gateway: NodeClient,
  connect: (addr: string) => Promise<NodeClient>,
): Promise<GcReportJson> {
  const { members } = await gateway.status();
  const alive = members.filter((m) => m.state === "self" || m.state === "alive");
  const nodes = await Promise.all(
    alive.map(async (m) => {
      let done: MessageOf<"gc.done"> | undefined;
      let problem: string | null = null;
      try {
        const client = m.state === "self" ? gateway : await connect(m.addr);
        try {
          done = await client.request({ t: "gc.run" }, "gc.done", PASS_TIMEOUT_MS);
        } finally {
          if (client !== gateway) client.close();
        }
        problem = done.skipped ?? null;
      } catch (err) {
        problem = (err as Error).message;
      }
      return {
        id: m.nodeId,
        address: m.addr,
        reclaimedBytes: done?.reclaimedBytes ?? null,
        reclaimedChunks: done?.reclaimedChunks ?? null,
        reclaimableBytes: done?.reclaimableBytes ?? null,
        problem,
      };
    }),
  );
  return { nodes };
}

function render(r: GcReportJson): string {
  const show = (n: number | null) => (n === null ? "-" : formatBytes(n));
  return table(
    ["NODE", "ADDRESS", "RECLAIMED", "CHUNKS", "STILL RECLAIMABLE", "PROBLEM"],
    r.nodes.map((n) => [
      n.id.slice(0, 8),
      n.address,
      show(n.reclaimedBytes),
      n.reclaimedChunks === null ? "-" : String(n.reclaimedChunks),
      show(n.reclaimableBytes),
      n.problem ?? "",
    ]),
  );
}
