// `dmfs init`: creates the cluster directory - CA, node and client certificates, data key - either
// where --dir says or where a config file's `cluster.dir` says, with one node per configured server.
import { Command, InvalidArgumentError, Option } from "commander";
import { initCluster, MAX_CLUSTER_NODES } from "../cluster/cluster-dir.ts";
import { loadConfig } from "../config/config.ts";

interface InitOptions {
  dir: string;
  nodes: number;
  config?: string;
  force?: boolean;
  json?: boolean;
}

export function initCommand(): Command {
  return new Command("init")
    .description("create a cluster: its CA, a certificate per node and for the client, and the data key")
    .addOption(
      new Option("--dir <dir>", "where to create the cluster").default("./cluster").conflicts("config"),
    )
    .addOption(
      new Option("--nodes <n>", "how many node certificates to issue")
        .default(3)
        .argParser(parseNodeCount)
        .conflicts("config"),
    )
    .option("--config <file>", "take the cluster dir and node count (one per server) from this config")
    .option("--force", "replace an existing cluster (its data key and certificates are lost)")
    .option("--json", "print { clusterId, dir, nodes } as JSON")
    .action(async (options: InitOptions) => {
      const config = options.config === undefined ? undefined : loadConfig(options.config);
      const dir = config?.cluster.dir ?? options.dir;
      const nodes = config?.servers.length ?? options.nodes;
      const result = await initCluster({ dir, nodes, force: options.force ?? false });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ clusterId: result.clusterId, dir: result.dir, nodes })}\n`);
        return;
      }
      const listing = result.files.map((file) => `  ${file}\n`).join("");
      process.stdout.write(
        `Created cluster ${result.clusterId} with ${nodes} node certificate(s) in ${result.dir}:\n${listing}` +
          `Keep data.key safe and private: without it no uploaded file can be read back.\n`,
      );
    });
}

function parseNodeCount(text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_CLUSTER_NODES) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_CLUSTER_NODES}.`);
  }
  return count;
}
