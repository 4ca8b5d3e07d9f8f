// How a command finds its cluster: `--config FILE` (the nodes and cluster directory from the config) or
// `--node HOST:PORT` (one node, with the cluster directory from --cluster, default ./cluster).
import { type Command, Option } from "commander";
import { type ClusterIdentity, loadIdentity } from "../cluster/cluster-dir.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { DmfsError } from "../errors.ts";
import { splitHostPort } from "../node/address.ts";

export const DEFAULT_CONFIG = "demo/config.yaml";
const DEFAULT_CHUNK_SIZE = 1024 * 1024;

export interface ClusterAccessOptions {
  config?: string;
  node?: string;
  cluster?: string;
}

export interface ClusterAccess {
  /** Node addresses to try, gateway first. */
  addrs: string[];
  clusterDir: string;
  identity: ClusterIdentity;
  chunkSize: number;
  config: Config | undefined;
}

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-c, --config <file>", `cluster config (default: ${DEFAULT_CONFIG})`))
    .addOption(new Option("-n, --node <host:port>", "talk to this node instead of the config's nodes"))
    .addOption(
      new Option(
        "--cluster <dir>",
        "the admin/client bundle: client certificate, data key (with --node; default ./cluster)",
      ),
    );
}

export async function resolveClusterAccess(opts: ClusterAccessOptions): Promise<ClusterAccess> {
  if (opts.node) splitHostPort(opts.node);
  const config = opts.config || !opts.node ? loadConfig(opts.config ?? DEFAULT_CONFIG) : undefined;
  const clusterDir = opts.cluster ?? config?.cluster.dir ?? "cluster";
  const addrs = opts.node ? [opts.node] : (config?.servers.map((s) => s.listenAddr) ?? []);
  if (addrs.length === 0) throw new DmfsError("E_CONFIG", "the config lists no servers to talk to");
  const identity = await loadIdentity(clusterDir, "client");
  return { addrs, clusterDir, identity, chunkSize: config?.cluster.chunkSize ?? DEFAULT_CHUNK_SIZE, config };
}
