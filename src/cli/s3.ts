// `dmfs s3`: the S3 gateway (src/s3/), a client of the cluster like any other command - it holds the data
// key and the S3 access keys here, on the user's side; and `dmfs s3 keys create|list|delete` for those
// access keys, kept in the admin/client bundle (never on nodes).

import { once } from "node:events";
import { statSync } from "node:fs";
import { Command, Option } from "commander";
import { FileClient } from "../client/file-client.ts";
import { ListingIndex } from "../client/listing-index.ts";
import { NodeClient } from "../client/node-client.ts";
import { loadDataKeyPath, loadIdentity } from "../cluster/cluster-dir.ts";
import { loadConfig, parseCapacity } from "../config/config.ts";
import { deriveKeys, loadDataKey } from "../crypto/keys.ts";
import { DmfsError } from "../errors.ts";
import { joinHostPort, splitHostPort } from "../node/address.ts";
import {
  type AccessKey,
  accessKeysPath,
  createAccessKey,
  deleteAccessKey,
  loadAccessKeys,
} from "../s3/access-keys.ts";
import { listFilesByPrefix } from "../s3/cluster-listing.ts";
import { ClusterSession } from "../s3/cluster-session.ts";
import { loadGatewayTls } from "../s3/gateway-tls.ts";
import { MultipartUploads } from "../s3/multipart.ts";
import { AbandonedUploadCollector, DEFAULT_MULTIPART_MAX_AGE_S } from "../s3/multipart-collector.ts";
import { DEFAULT_MAX_REQUESTS, S3Gateway } from "../s3/server.ts";
import type { SecretLookup } from "../s3/sigv4.ts";
import { S3Store } from "../s3/store.ts";
import { CryptoPool } from "../workers/crypto-pool.ts";
import { FifoGate } from "../workers/fifo-gate.ts";
import {
  addClusterOptions,
  type ClusterAccessOptions,
  DEFAULT_CONFIG,
  resolveClusterAccess,
} from "./cluster-access.ts";
import { clientPoolThreads, directPathsFor } from "./file-session.ts";
import { table } from "./format.ts";
import { collectPeriodically, SMALL_YOUNG_GENERATION } from "./garbage-collection.ts";

const DEFAULT_LISTEN = "127.0.0.1:9000";
/**
 * Plaintext of all the gateway's uploads being sealed or written at once (FileClientOptions.uploadGate):
 * each such chunk is a plaintext and a sealed copy, so the buffers of uploads in flight stay near twice
 * this, whatever the number of requests. One upload alone still has its whole window (8 chunks of 1 MiB).
 * `--upload-budget` sets it.
 */
export const UPLOAD_BUDGET_BYTES = 8 * 1024 * 1024;

/** The bytes of `--upload-budget` (8MiB, 64MiB, 1GiB, ...); a usage error for anything else. */
export function parseUploadBudget(budget: string): number {
  const bytes = parseCapacity(budget);
  if (bytes === undefined) {
    throw new DmfsError(
      "E_USAGE",
      `--upload-budget must be a size in bytes, such as 8MiB, 64MiB or 1GiB, got ${JSON.stringify(budget)}`,
    );
  }
  return bytes;
}

/** Chunks the gateway's uploads may have in flight together: the budget in whole chunks, at least 2. */
export function uploadBudgetChunks(budgetBytes: number, chunkSize: number): number {
  return Math.max(2, Math.floor(budgetBytes / chunkSize));
}

export function s3Command(): Command {
  const command = addClusterOptions(
    new Command("s3").description(
      "serve the cluster's files over the S3 API (a bucket is a top-level folder)",
    ),
  )
    .addOption(
      new Option("--listen <host:port>", "address to serve on (HTTP, or HTTPS with --tls-cert)").default(
        DEFAULT_LISTEN,
      ),
    )
    .addOption(new Option("--tls-cert <file>", "serve HTTPS with this PEM certificate (and --tls-key)"))
    .addOption(new Option("--tls-key <file>", "the PEM private key of --tls-cert"))
    .addOption(
      new Option("--max-requests <n>", "requests served at once; more are told to slow down (503)").default(
        String(DEFAULT_MAX_REQUESTS),
      ),
    )
    .addOption(
      new Option(
        "--upload-budget <size>",
        "plaintext all uploads may have in flight together (whole chunks, at least 2); memory grows about twice this",
      ).default(`${UPLOAD_BUDGET_BYTES / 2 ** 20}MiB`),
    )
    .addOption(
      new Option(
        "--multipart-max-age <seconds>",
        "multipart uploads not completed this long after they began are aborted",
      ).default(String(DEFAULT_MULTIPART_MAX_AGE_S)),
    )
    .action(async (o: ServeOptions) => serve(o));
  command.addCommand(keysCommand());
  return command;
}

type ServeOptions = ClusterAccessOptions & {
  listen: string;
  maxRequests: string;
  uploadBudget: string;
  multipartMaxAge: string;
  tlsCert?: string;
  tlsKey?: string;
};

async function serve(o: ServeOptions): Promise<void> {
  const { host, port } = splitHostPort(o.listen);
  const tls = await loadGatewayTls(o.tlsCert, o.tlsKey);
  const maxAge = Number(o.multipartMaxAge);
  if (!(maxAge > 0)) {
    throw new DmfsError(
      "E_USAGE",
      `--multipart-max-age must be a positive number of seconds, got ${o.multipartMaxAge}`,
    );
  }
  const budgetBytes = parseUploadBudget(o.uploadBudget);
  const access = await resolveClusterAccess(o);
  const keys = deriveKeys(await loadDataKey(loadDataKeyPath(access.clusterDir)));
  const secretOf = accessKeyLookup(access.clusterDir);
  if ((await loadAccessKeys(access.clusterDir)).length === 0) {
    process.stderr.write(
      "dmfs s3: no access keys yet; every request will be refused until `dmfs s3 keys create`\n",
    );
  }
  const { index, notice } = ListingIndex.open(access.clusterDir, access.identity.clusterId, keys);
  if (notice) process.stderr.write(`dmfs s3: ${notice}\n`);
  // The pool's threads keep their young generation small, as the file commands' do (file-session.ts).
  const pool = new CryptoPool({ threads: clientPoolThreads(), v8Flags: [SMALL_YOUNG_GENERATION] });
  const uploadGate = new FifoGate(uploadBudgetChunks(budgetBytes, access.chunkSize));
  const session = new ClusterSession(
    () => NodeClient.connect(access.addrs, { identity: access.identity, chunkSize: access.chunkSize }),
    (gateway) =>
      new FileClient(gateway, pool, keys, access.chunkSize, {
        directPaths: directPathsFor(access.identity, access.chunkSize),
        uploadGate,
      }),
  );
  const listFiles = listFilesByPrefix(() => session.files(), index);
  const store = new S3Store(() => session.files(), listFiles);
  const uploads = new MultipartUploads(() => session.files(), listFiles, store);
  const s3 = new S3Gateway({
    store,
    uploads,
    secretOf,
    maxRequests: Number(o.maxRequests),
    tls,
  });
  let collector: AbandonedUploadCollector | undefined;
  // While requests run, a full collection every few seconds, as the file commands have (garbage-collection.ts):
  // dead chunk buffers otherwise wait for V8's own trigger (about 20 MiB less at the peak of 16 PUTs).
  const stopCollecting = collectPeriodically(undefined, () => s3.workedSinceLastAsked());
  try {
    // Connect before serving: a cluster that cannot be reached is one clear error at start.
    const nodeId = await session.nodeId();
    const bound = await s3.listen(host, port);
    collector = new AbandonedUploadCollector(uploads, maxAge * 1000, (line) =>
      process.stderr.write(`dmfs s3: ${line}\n`),
    );
    process.stdout.write(
      `dmfs s3: serving S3 on ${tls ? "https" : "http"}://${joinHostPort(bound.host, bound.port)} through node ${nodeId.slice(0, 8)}\n`,
    );
    await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
  } finally {
    stopCollecting();
    await collector?.stop();
    await s3.close();
    session.close();
    await pool.destroy();
    index.close();
  }
}

/** Reads the access key file again whenever it changed, so keys made while the gateway runs work at once. */
function accessKeyLookup(clusterDir: string): SecretLookup {
  const path = accessKeysPath(clusterDir);
  let seen = -1;
  let secrets: Promise<Map<string, string>> = Promise.resolve(new Map());
  return async (accessKeyId) => {
    const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (mtime !== seen) {
      seen = mtime;
      secrets = loadAccessKeys(clusterDir).then(
        (keys) => new Map(keys.map((k) => [k.accessKeyId, k.secretAccessKey])),
      );
    }
    return (await secrets).get(accessKeyId);
  };
}

function keysCommand(): Command {
  const keys = new Command("keys").description(
    "S3 access keys, kept in the admin/client bundle (mode 0600) named by --cluster or the config",
  );
  keys.addCommand(
    new Command("create")
      .description("make a new access key and print it")
      .option("--json", 'print { "accessKeyId", "secretAccessKey" }')
      .action(async (o: { json?: boolean }, cmd: Command) => {
        const key = await createAccessKey(await bundleDir(cmd));
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey })}\n`
            : `access key id:     ${key.accessKeyId}\nsecret access key: ${key.secretAccessKey}\n`,
        );
      }),
  );
  keys.addCommand(
    new Command("list")
      .description("list the access key ids (never the secrets)")
      .option("--json", 'print an array of { "accessKeyId", "created" }')
      .action(async (o: { json?: boolean }, cmd: Command) => {
        const all = await loadAccessKeys(await bundleDir(cmd));
        const rows = all.map((k: AccessKey) => ({ accessKeyId: k.accessKeyId, created: k.created }));
        process.stdout.write(
          o.json
            ? `${JSON.stringify(rows)}\n`
            : table(
                ["ACCESS KEY ID", "CREATED"],
                rows.map((r) => [r.accessKeyId, new Date(r.created).toISOString()]),
              ),
        );
      }),
  );
  keys.addCommand(
    new Command("delete")
      .description("delete an access key: requests signed with it are refused")
      .argument("<access-key-id>")
      .action(async (id: string, _o: unknown, cmd: Command) => {
        await deleteAccessKey(await bundleDir(cmd), id);
      }),
  );
  return keys;
}

/** The admin/client bundle the keys live in; it must be one (a client certificate and a data key). */
async function bundleDir(cmd: Command): Promise<string> {
  // --cluster and --config are the `dmfs s3` options, given before or after `keys <verb>`.
  const o = cmd.optsWithGlobals<ClusterAccessOptions>();
  const dir =
    o.cluster ??
    (o.config || statSync(DEFAULT_CONFIG, { throwIfNoEntry: false })
      ? loadConfig(o.config ?? DEFAULT_CONFIG).cluster.dir
      : "cluster");
  await loadIdentity(dir, "client");
  await loadDataKey(loadDataKeyPath(dir));
  return dir;
}
