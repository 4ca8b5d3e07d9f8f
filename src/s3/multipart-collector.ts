// Abandoned multipart uploads are aborted by the gateway itself: an upload initiated more than `maxAgeMs`
// ago (S3's lifecycle rule AbortIncompleteMultipartUpload, here one setting of `dmfs s3`) loses its entries,
// after which garbage collection on the nodes reclaims the chunks only it held. A pass runs at start and
// then every quarter of the age (at least 1 s, at most an hour), one at a time, each aborting at most
// UPLOADS_PER_PASS uploads so that a backlog is worked off in bounded steps.
import type { MultipartUploads } from "./multipart.ts";

export const DEFAULT_MULTIPART_MAX_AGE_S = 7 * 24 * 3600;
const UPLOADS_PER_PASS = 100;
const MIN_INTERVAL_MS = 1_000;
const MAX_INTERVAL_MS = 3_600_000;

export class AbandonedUploadCollector {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;

  constructor(
    private readonly uploads: MultipartUploads,
    private readonly maxAgeMs: number,
    private readonly log: (line: string) => void,
  ) {
    const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(maxAgeMs / 4)));
    this.#timer = setInterval(() => this.tick(), interval);
    this.#timer.unref();
    this.tick();
  }

  /** Stops the timer once the pass under way (if any) has ended. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  private tick(): void {
    if (this.#running) return;
    this.#running = this.uploads
      .collectAbandoned(this.maxAgeMs, UPLOADS_PER_PASS)
      .then(
        ({ aborted, orphans }) => {
          if (aborted > 0 || orphans > 0)
            this.log(
              `aborted ${aborted} abandoned multipart upload(s), deleted ${orphans} stray part file(s)`,
            );
        },
        (err: unknown) =>
          this.log(`collecting abandoned multipart uploads failed: ${(err as Error).message}`),
      )
      .finally(() => {
        this.#running = undefined;
      });
  }
}
