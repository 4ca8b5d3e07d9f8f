// What every file command opens: the cluster (from --config or --node), the data key, a connection to
// a gateway node and the crypto pool; and closes again whatever happens.

import { availableParallelism } from "node:os";
import type { ChunkRoutesOptions } from "../client/chunk-routes.ts";
import { FileClient } from "../client/file-client.ts";
import { NodeClient } from "../client/node-client.ts";
import { type ClusterIdentity, loadDataKeyPath } from "../cluster/cluster-dir.ts";
import { deriveKeys, loadDataKey } from "../crypto/keys.ts";
import { CryptoPool } from "../workers/crypto-pool.ts";
import { type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { tuneClientGarbageCollection } from "./garbage-collection.ts";

export async function withFileClient<T>(
  opts: ClusterAccessOptions,
  work: (files: FileClient, gateway: NodeClient) => Promise<T>,
): Promise<T> {
  tuneClientGarbageCollection();
  const access = await resolveClusterAccess(opts);
  const keys = deriveKeys(await loadDataKey(loadDataKeyPath(access.clusterDir)));
  const gateway = await NodeClient.connect(access.addrs, {
    identity: access.identity,
    chunkSize: access.chunkSize,
  });
  const pool = new CryptoPool({ threads: clientPoolThreads() });
  const files = new FileClient(gateway, pool, keys, access.chunkSize, {
    directPaths: directPathsFor(access.identity, access.chunkSize),
  });
  try {
    return await work(files, gateway);
  } finally {
    files.close();
    gateway.close();
    await pool.destroy();
  }
}

/** How a client dials the other nodes for direct reads (src/client/chunk-routes.ts). */
export function directPathsFor(identity: ClusterIdentity, chunkSize: number): ChunkRoutesOptions {
  return {
    caPem: identity.ca,
    clusterId: identity.clusterId,
    dial: (addr) => NodeClient.connect([addr], { identity, chunkSize }),
  };
}

/** One core stays with the main thread (TLS, sockets, files); the others seal and open chunks. */
export function clientPoolThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}
