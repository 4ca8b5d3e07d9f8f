// The gateway's one way to list the cluster's files: by path prefix, in S3 order (UTF-8 bytes), from the
// listing index kept beside the bundle (src/client/listing-index.ts), brought up to date from the gateway
// node before each listing - so a listing sees every write acknowledged before it was asked for.
import type { FileClient } from "../client/file-client.ts";
import type { ListedFile, ListingIndex } from "../client/listing-index.ts";

export type ClusterFile = ListedFile;

export type ListFiles = (prefix: string) => Promise<ClusterFile[]>;

export function listFilesByPrefix(files: () => Promise<FileClient>, index: ListingIndex): ListFiles {
  // One sync at a time: a listing waits for a sync that starts after it was asked for (joining one
  // already queued), never for one already running, which may have missed a write just acknowledged.
  let running: Promise<unknown> = Promise.resolve();
  let queued: Promise<unknown> | undefined;
  const synced = () => {
    if (!queued) {
      const next = running.then(async () => {
        queued = undefined;
        await (await files()).syncListing(index);
      });
      queued = next;
      running = next.catch(() => undefined);
    }
    return queued;
  };
  return async (prefix) => {
    await synced();
    return [...index.files(prefix)];
  };
}
