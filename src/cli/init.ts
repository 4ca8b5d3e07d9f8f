// `dmfs init`: creates the cluster - the admin/client bundle (CA key, client certificate, data key) and one
// node bundle per node - either where --dir says or where a config file's `cluster.dir` says, with one
// node per configured server.
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
    .description(
      "create a cluster: the admin bundle (CA key, client certificate, data key) and one bundle per node",
    )
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
    .option("--json", "print { clusterId, dir, nodes, nodeBundles } as JSON")
    .addHelpText(
      "after",
      "\nThe cluster dir is the admin bundle: keep it on the admin's machine. Each node gets only its\nnodes/node-<i>/ directory. Add nodes later with dmfs cluster add-node, not with --force.",
    )
    .action(async (options: InitOptions) => {
      const config = options.config === undefined ? undefined : loadConfig(options.config);
      const dir = config?.cluster.dir ?? options.dir;
      const nodes = config?.servers.length ?? options.nodes;
      const result = await initCluster({ dir, nodes, force: options.force ?? false });
      if (options.json) {
        const { clusterId, dir: adminDir, nodeBundles } = result;
        process.stdout.write(`${JSON.stringify({ clusterId, dir: adminDir, nodes, nodeBundles })}\n`);
        return;
      }
      const listing = result.nodeBundles.map((bundle) => `  ${bundle}\n`).join("");
      process.stdout.write(
        `Created cluster ${result.clusterId} in ${result.dir} (the admin bundle: CA key, client certificate, data key).\n` +
          `Node bundles, one per node, each holding only the CA certificate and that node's certificate and key:\n${listing}` +
          `Give each node machine only its own bundle; keep data.key and ca.key safe and off the nodes: without data.key no uploaded file can be read back.\n`,
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
