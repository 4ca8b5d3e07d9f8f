// An upload's hold on its chunks against garbage collection: nodes collect unreferenced chunks older
// than the GC grace, and an upload's chunks are unreferenced until its commit. While the upload runs,
// the chunks written so far are renewed (their age reset on every node holding them) four times per
// grace, so an upload may last longer than the grace. A failed renewal is tried again at the next tick.
import { MAX_CHUNK_IDS_PER_REQUEST } from "../protocol/messages.ts";
import type { NodeClient } from "./node-client.ts";

export class UploadRenewal {
  private readonly written: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly gateway: NodeClient,
    graceMs: number,
  ) {
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(graceMs / 4)));
    this.timer.unref();
  }

  /** A chunk the gateway acknowledged: renewed from now on. */
  add(chunkId: string): void {
    this.written.push(chunkId);
  }

  /** Stops renewing (the upload committed or failed) once the renewal under way is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private tick(): void {
    if (this.renewing || this.written.length === 0) return;
    this.renewing = this.renew()
      .catch(() => undefined)
      .finally(() => {
        this.renewing = undefined;
      });
  }

  private async renew(): Promise<void> {
    const ids = [...this.written];
    for (let i = 0; i < ids.length; i += MAX_CHUNK_IDS_PER_REQUEST) {
      const chunkIds = ids.slice(i, i + MAX_CHUNK_IDS_PER_REQUEST);
      await this.gateway.request({ t: "file.chunk.touch", chunkIds }, "ok");
    }
  }
}
