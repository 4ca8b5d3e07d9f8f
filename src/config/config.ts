// The YAML configuration: `cluster:` (certificates dir, replication, write quorum, chunk size, timers)
// and `servers:` (listen address, root, bootstrap peers). Loading validates everything and resolves
// relative paths against the config file, so the rest of the code sees only checked, absolute values.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { ZoneName } from "../cluster/layout.ts";
import { DmfsError } from "../errors.ts";
import { DEFAULT_RESERVE, type ReserveSetting } from "../store/disk-reserve.ts";

export interface ClusterConfig {
  /** Absolute path of the admin/client bundle (CA key, client certificate, data key); node bundles under nodes/. */
  dir: string;
  /** R: copies kept of every chunk. */
  replication: number;
  /** W: copies fsynced before an upload is acknowledged, 1 <= W <= R. */
  writeQuorum: number;
  /** Plaintext bytes per chunk. */
  chunkSize: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Unreferenced chunks older than this are garbage collected; longer than any upload. */
  gcGraceMs: number;
  /** Time between a node's periodic garbage collection passes. */
  gcIntervalMs: number;
  /** Time between a node's periodic repair scans. */
  repairIntervalMs: number;
  /** A tombstone is purged once every layout node acknowledged it and this long passed since the delete. */
  tombstoneGraceMs: number;
  /** Free space every node keeps on its disk (below it, no new chunk copies); a server may override it. */
  diskReserve: ReserveSetting;
  /** The most megabytes (10^6 bytes) per second a node's repair pushes to other nodes; 0: no limit. */
  rebalanceMBps: number;
}

export interface ServerConfig {
  /** "host:port", with the host always present (IPv6 hosts in brackets). */
  listenAddr: string;
  host: string;
  port: number;
  /** Absolute path of the node's root directory. */
  root: string;
  /** Bootstrap peers as "host:port"; ":port" in the file means this server's own host. */
  nodes: string[];
  /** Absolute path of this server's node bundle; default `<cluster.dir>/nodes/node-<index>`. */
  bundle: string | undefined;
  /** "host:port" its node serves Prometheus metrics on; none when absent. */
  metricsAddr: string | undefined;
  /** Bytes this node offers, its placement weight; default: its disk's free space. */
  capacity: number | undefined;
  /** The zone this server is in (a room, a site): the admin's next layout places copies across zones. */
  zone: string | undefined;
  /** This server's free-space reserve, when it differs from `cluster.diskReserve`. */
  diskReserve: ReserveSetting | undefined;
}

export interface Config {
  /** Absolute path of the file this config was loaded from. */
  file: string;
  cluster: ClusterConfig;
  servers: ServerConfig[];
}

const KIB = 1024;
const MIB = 1024 * KIB;
const MIN_CHUNK_SIZE = 64 * KIB;
const MAX_CHUNK_SIZE = 16 * MIB;
const GIB = 1024 * MIB;
const SIZE_UNITS: Record<string, number> = { "": 1, B: 1, KIB: KIB, MIB: MIB, GIB: GIB };
const ADDRESS = /^(?:\[(?<ipv6>[0-9A-Fa-f:.]+)\]|(?<host>[^\s:[\]]*)):(?<port>\d+)$/;

interface Address {
  host: string;
  port: number;
}

/** The node bundle server `index` of `config` runs from. */
export function nodeBundleDir(config: Config, index: number): string {
  return config.servers[index]?.bundle ?? resolve(config.cluster.dir, "nodes", `node-${index}`);
}

/** Reads, validates and resolves a config file; every problem is an E_CONFIG naming file and field. */
export function loadConfig(file: string): Config {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DmfsError("E_CONFIG", `Cannot read config file ${path}: ${(err as Error).message}.`, {
      subject: path,
      cause: err,
    });
  }
  const document = YAML.parseDocument(text);
  const syntaxError = document.errors[0];
  if (syntaxError) {
    const position = syntaxError.linePos?.[0];
    const where = position ? ` at line ${position.line}, column ${position.col}` : "";
    const reason = (syntaxError.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    throw new DmfsError("E_CONFIG", `Invalid config ${path}: YAML syntax error${where}: ${reason}.`, {
      subject: path,
    });
  }
  const raw: unknown = document.toJS();
  if (raw === null || raw === undefined) {
    throw new DmfsError("E_CONFIG", `Invalid config ${path}: the file is empty; it needs a servers: list.`, {
      subject: path,
    });
  }
  const parsed = configSchema(dirname(path)).safeParse(raw, { error: describeIssue });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap(issueLines);
    throw new DmfsError("E_CONFIG", `Invalid config ${path}: ${problems.join("; ")}.`, { subject: path });
  }
  return { file: path, ...parsed.data };
}

const positiveMilliseconds = z.int().min(1);

const sizeSchema = z.unknown().transform((value, ctx): number => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue('must be a number of bytes or a size like "1MiB" or "256KiB"');
    return z.NEVER;
  }
  if (bytes < MIN_CHUNK_SIZE || bytes > MAX_CHUNK_SIZE) {
    ctx.addIssue(`must be between 64KiB and 16MiB (got ${bytes} bytes)`);
    return z.NEVER;
  }
  return bytes;
});

const reserveSchema = z.unknown().transform((value, ctx): ReserveSetting => {
  const reserve = parseReserve(value);
  if (reserve === undefined) {
    ctx.addIssue(
      'must be a share of the disk like "5%" (0 to 50), or a size like "512MiB" or a number of bytes',
    );
    return z.NEVER;
  }
  return reserve;
});

// Relative paths in the file resolve against `base`, the config file's directory.
const clusterSchema = (base: string) =>
  z
    .strictObject({
      dir: z
        .string()
        .min(1)
        .default("./cluster")
        .transform((dir) => resolve(base, dir)),
      replication: z.int().min(1).default(3),
      writeQuorum: z.int().min(1).optional(),
      chunkSize: sizeSchema.default(MIB),
      heartbeatMs: positiveMilliseconds.default(1000),
      failureTimeoutMs: positiveMilliseconds.default(5000),
      gcGraceMs: positiveMilliseconds.default(60 * 60_000),
      gcIntervalMs: positiveMilliseconds.default(10 * 60_000),
      repairIntervalMs: positiveMilliseconds.default(30_000),
      tombstoneGraceMs: positiveMilliseconds.default(7 * 24 * 3600_000),
      diskReserve: reserveSchema.default(DEFAULT_RESERVE),
      rebalanceMBps: z.number().nonnegative().default(100),
    })
    .transform((cluster, ctx) => {
      // Unset, W is 2 - or R itself when R is 1, so the smallest cluster still works.
      const writeQuorum = cluster.writeQuorum ?? Math.min(2, cluster.replication);
      if (writeQuorum > cluster.replication) {
        ctx.addIssue({
          code: "custom",
          path: ["writeQuorum"],
          message: `writeQuorum ${writeQuorum} exceeds replication ${cluster.replication}`,
        });
      }
      if (cluster.failureTimeoutMs <= cluster.heartbeatMs) {
        ctx.addIssue({
          code: "custom",
          path: ["failureTimeoutMs"],
          message: `failureTimeoutMs ${cluster.failureTimeoutMs} must exceed heartbeatMs ${cluster.heartbeatMs}`,
        });
      }
      return { ...cluster, writeQuorum };
    });

const listenAddrSchema = z.string().transform((text, ctx): Address => {
  const address = parseAddress(text, ctx);
  if (address && address.host === "") {
    ctx.addIssue(`must name its host, like "127.0.0.1${text}"`);
    return z.NEVER;
  }
  return address ?? z.NEVER;
});

// The host may be left out (":8000"); the server it belongs to fills it in.
const peerAddrSchema = z.string().transform((text, ctx): Address => parseAddress(text, ctx) ?? z.NEVER);

const CAPACITY_UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes, as a whole number or with a binary unit: 500G, 2T, 1048576. */
export function parseCapacity(text: string): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * (CAPACITY_UNITS[(match[2] ?? "").toUpperCase()] ?? 1));
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A zone name as the config, `dmfs node --zone` and `add-node --zone` take it: 1-64 characters, no spaces. */
export function parseZone(text: string): string | undefined {
  return ZoneName.safeParse(text).data;
}

const capacitySchema = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  const bytes = typeof value === "number" ? value : parseCapacity(value);
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 1) {
    ctx.addIssue({ code: "custom", message: "expected a number of bytes, such as 500G or 1099511627776" });
    return z.NEVER;
  }
  return bytes;
});

const serverSchema = (base: string) =>
  z
    .strictObject({
      listenAddr: listenAddrSchema,
      root: z
        .string()
        .min(1)
        .transform((root) => resolve(base, root)),
      nodes: z.preprocess((nodes) => nodes ?? [], z.array(peerAddrSchema)),
      bundle: z
        .string()
        .min(1)
        .transform((bundle) => resolve(base, bundle))
        .optional(),
      metricsAddr: listenAddrSchema.optional(),
      capacity: capacitySchema.optional(),
      zone: ZoneName.optional(),
      diskReserve: reserveSchema.optional(),
    })
    .transform(
      ({ listenAddr, root, nodes, bundle, metricsAddr, capacity, zone, diskReserve }): ServerConfig => ({
        bundle,
        metricsAddr: metricsAddr && formatAddress(metricsAddr),
        capacity,
        zone,
        diskReserve,
        listenAddr: formatAddress(listenAddr),
        host: listenAddr.host,
        port: listenAddr.port,
        root,
        nodes: nodes.map((peer) => formatAddress({ host: peer.host || listenAddr.host, port: peer.port })),
      }),
    );

const configSchema = (base: string) =>
  z
    .strictObject({
      // A missing or empty `cluster:` section means every default.
      cluster: z.preprocess((cluster) => cluster ?? {}, clusterSchema(base)),
      servers: z.array(serverSchema(base)).min(1),
    })
    .superRefine(({ servers }, ctx) => {
      for (const field of ["listenAddr", "root"] as const) {
        const firstIndex = new Map<string, number>();
        servers.forEach((server, index) => {
          const earlier = firstIndex.get(server[field]);
          if (earlier === undefined) {
            firstIndex.set(server[field], index);
            return;
          }
          ctx.addIssue({
            code: "custom",
            path: ["servers", index, field],
            message: `duplicate ${field} ${server[field]} (also servers[${earlier}].${field})`,
          });
        });
      }
    });

function parseAddress(text: string, ctx: z.RefinementCtx): Address | undefined {
  const match = ADDRESS.exec(text.trim());
  if (!match?.groups) {
    ctx.addIssue(`must be host:port, like "127.0.0.1:8000" (got ${JSON.stringify(text)})`);
    return undefined;
  }
  const port = Number(match.groups.port);
  if (port < 1 || port > 65535) {
    ctx.addIssue(`port out of range: ${match.groups.port} is not between 1 and 65535`);
    return undefined;
  }
  return { host: match.groups.ipv6 ?? match.groups.host ?? "", port };
}

function formatAddress({ host, port }: Address): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "5%" (a share of the disk, up to half of it), or a size as `parseSize` reads it; 0 turns it off. */
export function parseReserve(value: unknown): ReserveSetting | undefined {
  if (typeof value === "string" && value.trim().endsWith("%")) {
    const percent = Number(value.trim().slice(0, -1));
    return Number.isFinite(percent) && percent >= 0 && percent <= 50 ? { percent } : undefined;
  }
  const bytes = parseSize(value);
  return bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 0 ? undefined : { bytes };
}

function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^(\d+)\s*([KkMmGg]i[Bb]|[Bb])?$/.exec(value.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? "").toUpperCase()];
  return match?.[1] === undefined || unit === undefined ? undefined : Number(match[1]) * unit;
}

// zod's own messages are generic ("Invalid input"); these say what the field must be.
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
    case "too_small":
      if (issue.origin === "array") return `must list at least ${issue.minimum} entry`;
      if (issue.origin === "string") return "must not be empty";
      return `must be at least ${issue.minimum}`;
    default:
      return undefined;
  }
}

const EXPECTED: Record<string, string> = {
  int: "a whole number",
  number: "a number",
  string: "a string",
  array: "a list",
  object: "a mapping (key: value)",
};

function issueLines(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown field`);
  }
  const path = fieldPath(issue.path);
  return [path === "" ? `the file ${issue.message}` : `${path}: ${issue.message}`];
}

/** ["servers", 1, "listenAddr"] -> "servers[1].listenAddr" */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}
