// The gateway's one way to list the cluster's files: by path prefix, in S3 order (UTF-8 bytes). The only
// place that knows how listing is done, so the listing index (issue 12: ListingIndex, synced from a node,
// then `files(prefix)`) replaces the stop-gap below here alone: until then every listing asks the
// gateway node for the whole catalog and filters it by prefix.
import type { FileClient } from "../client/file-client.ts";
import { compareKeys } from "./listing.ts";

export interface ClusterFile {
  path: string;
  key: string;
  size: number;
  mtime: number;
}

export type ListFiles = (prefix: string) => Promise<ClusterFile[]>;

export function listFilesByPrefix(files: () => Promise<FileClient>): ListFiles {
  return async (prefix) => {
    const { files: all } = await (await files()).list();
    return all.filter((f) => f.path.startsWith(prefix)).sort((a, b) => compareKeys(a.path, b.path));
  };
}
