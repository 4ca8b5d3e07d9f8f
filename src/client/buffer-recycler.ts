// Chunk-sized buffers handed back once their contents are done with, so that an upload allocates its
// window's worth of buffers once instead of two fresh megabytes per chunk. Every megabyte allocated and
// dropped is memory the process holds until V8's next full collection, in its main thread and in each
// crypto worker: reusing them is what keeps a client's resident size near its window (docs/performance.md).

export class BufferRecycler {
  readonly #free: Uint8Array<ArrayBuffer>[] = [];

  /** Keeps at most `keep` spare buffers of exactly `size` bytes. */
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  /** A spare buffer, or a new one. Its contents are whatever was last in it. */
  take(): Uint8Array<ArrayBuffer> {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** A spare buffer if there is one; never allocates. */
  spare(): Uint8Array<ArrayBuffer> | undefined {
    return this.#free.pop();
  }

  /** Returns a buffer whose contents nobody will read again; other sizes and detached buffers are dropped. */
  give(buffer: Uint8Array): void {
    const whole =
      buffer.buffer instanceof ArrayBuffer &&
      buffer.byteOffset === 0 &&
      buffer.byteLength === buffer.buffer.byteLength;
    if (whole && buffer.byteLength === this.size && this.#free.length < this.keep)
      this.#free.push(buffer as Uint8Array<ArrayBuffer>);
  }
}
