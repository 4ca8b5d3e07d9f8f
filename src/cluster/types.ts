// Shapes shared by the cluster logic, the catalog database and the wire protocol: the hybrid logical
// clock stamp and the catalog entry that last-writer-wins merges and anti-entropy compares.

/** A hybrid logical clock stamp: physical milliseconds plus a counter for events within one millisecond. */
export type Hlc = {
  /** Milliseconds since the Unix epoch. */
  wall: number;
  /** 0..65535; overflow advances `wall` by one millisecond instead. */
  logical: number;
};

/** One path's current state; a delete is the same entry with `deleted` set (a tombstone). */
export type CatalogEntry = {
  /** BLAKE3-keyed(k_path, path), 64 lowercase hex chars. */
  pathId: string;
  hlc: Hlc;
  /** Id of the node that stamped `hlc`, 32 lowercase hex chars; breaks ties between equal clocks. */
  writer: string;
  deleted: boolean;
  fileKey: string | null;
  manifestId: string | null;
  size: number;
  /** Encrypted { path, size, mtime }; only clients can read it. */
  meta: Uint8Array | null;
};
