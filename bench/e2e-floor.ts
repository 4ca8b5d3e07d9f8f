// The CPU floor of an end-to-end case: the CPU seconds per GiB that the primitives a transfer cannot avoid
// cost on this machine, each measured in the same run, summed the way the case pays them. A case's
// `efficiency` is that floor over what all its processes really spent; 1 would mean no CPU beyond the
// primitives (no framing, copies, scheduling or extra hops). bench/README.md explains the sums.

/** CPU seconds per GiB of each primitive, all threads of the processes involved, measured in this run. */
export interface PrimitiveCosts {
  /** Sealing in the client's crypto pool: keyed BLAKE3, AES-256-GCM and BLAKE3 of the stored bytes. */
  seal: number;
  /** Opening in the client's crypto pool: BLAKE3 of the stored bytes, AES-256-GCM, keyed BLAKE3. */
  open: number;
  /** One mutual-TLS hop, both ends: encrypting, decrypting and the socket calls. */
  tlsHop: number;
  /** One unkeyed BLAKE3 pass with the bulk backend: a node's check of a chunk id. */
  blake3: number;
  /** Writing one copy to a file and fsyncing it, as the writing process sees it. */
  writeCopy: number;
}

/**
 * An upload of R copies must seal once in the client, carry the bytes over R TLS hops (to the first home
 * and on to each other home, or one per home straight from the client - R either way), and on each home
 * check the chunk id once and write and fsync one copy.
 */
export function uploadFloor(costs: PrimitiveCosts, replication: number): number {
  return costs.seal + replication * (costs.tlsHop + costs.blake3 + costs.writeCopy);
}

/**
 * A read must carry the bytes over one TLS hop (from a node that holds them), check the chunk id on that
 * node before it is served (so a rotten copy is never sent) and open it in the client. Reading the copy
 * from the page cache is left out: it is small beside these and the same for every design.
 */
export function readFloor(costs: PrimitiveCosts): number {
  return costs.open + costs.tlsHop + costs.blake3;
}

const GiB = 1024 ** 3;

/** CPU seconds per GiB, from CPU seconds spent on `bytes`. */
export function perGiB(cpuSeconds: number, bytes: number): number {
  return cpuSeconds / (bytes / GiB);
}

/** The fields a large case adds: its CPU per GiB, the floor's and their ratio. */
export function floorFields(
  cpuSeconds: number,
  bytes: number,
  floor: number,
): { cpuSecPerGiB: number; floorCpuSecPerGiB: number; efficiency: number } {
  const spent = perGiB(cpuSeconds, bytes);
  return { cpuSecPerGiB: spent, floorCpuSecPerGiB: floor, efficiency: floor / spent };
}
