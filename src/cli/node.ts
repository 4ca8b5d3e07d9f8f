// `dmfs node`: runs one node in the foreground until SIGINT/SIGTERM.
import { Command, Option } from "commander";
import { loadConfig, nodeBundleDir, parseCapacity, parseReserve, parseZone } from "../config/config.ts";
import { DmfsError } from "../errors.ts";
import { splitHostPort } from "../node/address.ts";
import { createLogger, LOG_LEVELS, type LogLevel } from "../node/logger.ts";
import { startNode } from "../node/node-process.ts";
import { DEFAULT_CONFIG } from "./cluster-access.ts";
import { nodeDrainCommand, nodeRemoveCommand } from "./node-membership.ts";

interface NodeCliOptions {
  config?: string;
  server?: string;
  listen?: string;
  root?: string;
  join: string[];
  bundle?: string;
  chunkSize: string;
  replication: string;
  writeQuorum: string;
  logLevel: LogLevel;
  gcGraceMs?: string;
  gcIntervalMs?: string;
  metricsAddr?: string;
  capacity?: string;
  zone?: string;
  diskReserve?: string;
  repairIntervalMs?: string;
  rebalanceMbps?: string;
  tombstoneGraceMs?: string;
}

export function nodeCommand(): Command {
  return new Command("node")
    .description("run one storage node in the foreground, or take one out of the layout (remove, drain)")
    .addCommand(nodeRemoveCommand())
    .addCommand(nodeDrainCommand())
    .option("-c, --config <file>", `cluster config (default: ${DEFAULT_CONFIG} when --listen is not given)`)
    .option("-s, --server <index>", "which server of the config to run (0-based)")
    .option("--listen <host:port>", "listen address (instead of --config/--server)")
    .option("--root <dir>", "the node's data directory (with --listen)")
    .option("--join <host:port>", "a bootstrap peer (repeatable, with --listen)", collect, [])
    .option(
      "--bundle <dir>",
      "this node's bundle: CA certificate, its own certificate and key (required with --listen; with --config the default is <cluster.dir>/nodes/node-<server>)",
    )
    .option("--chunk-size <bytes>", "chunk size (with --listen)", "1048576")
    .option("--replication <R>", "copies of every chunk (with --listen)", "3")
    .option("--write-quorum <W>", "copies on disk before a write is acknowledged (with --listen)", "2")
    .option(
      "--gc-grace-ms <ms>",
      "collect unreferenced chunks older than this (default: config, else 1 hour)",
    )
    .option(
      "--gc-interval-ms <ms>",
      "time between garbage collection passes (default: config, else 10 minutes)",
    )
    .option(
      "--metrics-addr <host:port>",
      "serve Prometheus metrics at http://<host:port>/metrics (default: the server's metricsAddr in the config, else none)",
    )
    .option(
      "--capacity <bytes>",
      "bytes this node offers, e.g. 500G: its weight when the admin signs the next layout (default: config, else the disk's free space)",
    )
    .option(
      "--zone <name>",
      "the zone this node is in (a room, a site): the admin's next layout spreads each chunk's copies over zones (default: config, else none)",
    )
    .option("--repair-interval-ms <ms>", "time between repair scans (default: config, else 30 s)")
    .option(
      "--tombstone-grace-ms <ms>",
      "keep a delete's tombstone at least this long, and until every layout node acknowledged it (default: config, else 7 days)",
    )
    .option(
      "--disk-reserve <share|size>",
      'free space kept on the root\'s disk, e.g. "5%" or "2GiB"; below it the node takes no new chunk copies, 0 turns it off (default: config, else 5%)',
    )
    .option(
      "--rebalance-mbps <MB/s>",
      "the most MB/s repair pushes to other nodes, 0 for no limit (default: config, else 100)",
    )
    .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS).default("info"))
    .addHelpText(
      "after",
      "\nA node never holds the data key or the CA key: it refuses to start from a directory holding either.\n\nExamples:\n  dmfs node --config demo/config.yaml --server 1\n  dmfs node --listen 10.0.0.5:7000 --root /var/lib/dmfs --join 10.0.0.4:7000 --bundle /etc/dmfs/node-3",
    )
    .action(async (o: NodeCliOptions) => {
      const logger = createLogger(o.logLevel);
      const options = o.listen ? fromFlags(o) : fromConfig(o);
      const gc = {
        ...(o.gcGraceMs !== undefined ? { gcGraceMs: positiveInt(o.gcGraceMs, "--gc-grace-ms") } : {}),
        ...(o.gcIntervalMs !== undefined
          ? { gcIntervalMs: positiveInt(o.gcIntervalMs, "--gc-interval-ms") }
          : {}),
        ...(o.repairIntervalMs !== undefined
          ? { repairIntervalMs: positiveInt(o.repairIntervalMs, "--repair-interval-ms") }
          : {}),
        ...(o.rebalanceMbps !== undefined
          ? { rebalanceMBps: nonNegative(o.rebalanceMbps, "--rebalance-mbps") }
          : {}),
        ...(o.tombstoneGraceMs !== undefined
          ? { tombstoneGraceMs: positiveInt(o.tombstoneGraceMs, "--tombstone-grace-ms") }
          : {}),
      };
      const metricsAddr = o.metricsAddr ?? options.metricsAddr;
      // A bad address is a usage error now, not a node that starts and then fails.
      if (metricsAddr !== undefined) splitHostPort(metricsAddr);
      const capacity = o.capacity === undefined ? options.capacity : parseCapacity(o.capacity);
      if (capacity === undefined && o.capacity !== undefined) {
        throw new DmfsError("E_USAGE", "--capacity must be a number of bytes, such as 500G or 1099511627776");
      }
      const zone = o.zone === undefined ? options.zone : zoneFlag(o.zone);
      const reserve = o.diskReserve === undefined ? {} : { diskReserve: reserveFlag(o.diskReserve) };
      const node = await startNode({
        ...options,
        ...gc,
        ...reserve,
        ...(capacity === undefined ? {} : { capacity }),
        ...(zone === undefined ? {} : { zone }),
        ...(metricsAddr ? { metricsAddr } : {}),
        logger,
      });
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      logger.info("stopping");
      // A node that cannot stop cleanly within a few seconds must still go away when asked.
      setTimeout(() => process.exit(1), 5_000).unref();
      await node.stop();
      logger.info("stopped");
      process.exit(0);
    });
}

function fromConfig(o: NodeCliOptions) {
  const config = loadConfig(o.config ?? DEFAULT_CONFIG);
  const index = Number(o.server ?? Number.NaN);
  const server = config.servers[index];
  if (!Number.isInteger(index) || !server) {
    throw new DmfsError(
      "E_USAGE",
      `--server must be an index from 0 to ${config.servers.length - 1} of the servers in ${config.file}`,
    );
  }
  return {
    listenAddr: server.listenAddr,
    root: server.root,
    bootstrap: server.nodes,
    bundleDir: o.bundle ?? nodeBundleDir(config, index),
    chunkSize: config.cluster.chunkSize,
    replication: config.cluster.replication,
    writeQuorum: config.cluster.writeQuorum,
    heartbeatMs: config.cluster.heartbeatMs,
    failureTimeoutMs: config.cluster.failureTimeoutMs,
    gcGraceMs: config.cluster.gcGraceMs,
    gcIntervalMs: config.cluster.gcIntervalMs,
    metricsAddr: server.metricsAddr,
    capacity: server.capacity,
    zone: server.zone,
    diskReserve: server.diskReserve ?? config.cluster.diskReserve,
    repairIntervalMs: config.cluster.repairIntervalMs,
    rebalanceMBps: config.cluster.rebalanceMBps,
    tombstoneGraceMs: config.cluster.tombstoneGraceMs,
  };
}

function fromFlags(o: NodeCliOptions) {
  if (!o.root) throw new DmfsError("E_USAGE", "--listen needs --root, the node's data directory.");
  if (!o.bundle) {
    throw new DmfsError(
      "E_USAGE",
      "--listen needs --bundle, the node's own bundle directory (written by dmfs init or dmfs cluster add-node).",
    );
  }
  const chunkSize = Number(o.chunkSize);
  if (!Number.isInteger(chunkSize) || chunkSize < 64 * 1024) {
    throw new DmfsError("E_USAGE", "--chunk-size must be a whole number of bytes, at least 65536");
  }
  return {
    listenAddr: o.listen as string,
    root: o.root,
    bootstrap: o.join,
    bundleDir: o.bundle,
    chunkSize,
    replication: positiveInt(o.replication, "--replication"),
    writeQuorum: positiveInt(o.writeQuorum, "--write-quorum"),
    heartbeatMs: 1_000,
    failureTimeoutMs: 5_000,
    metricsAddr: undefined,
    capacity: undefined as number | undefined,
    zone: undefined as string | undefined,
    rebalanceMBps: undefined as number | undefined,
  };
}

function zoneFlag(value: string): string {
  const zone = parseZone(value);
  if (zone === undefined) {
    throw new DmfsError(
      "E_USAGE",
      "--zone must be a name of 1 to 64 characters without spaces, such as room-2",
    );
  }
  return zone;
}

function reserveFlag(value: string) {
  const reserve = parseReserve(value);
  if (reserve === undefined) {
    throw new DmfsError(
      "E_USAGE",
      '--disk-reserve must be a share of the disk like "5%" (0 to 50) or a size like "512MiB"',
    );
  }
  return reserve;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new DmfsError("E_USAGE", `${flag} must be a whole number of at least 1`);
  return n;
}

function nonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new DmfsError("E_USAGE", `${flag} must be a number of at least 0`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
