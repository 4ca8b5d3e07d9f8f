// File contents for the end-to-end suite: a seeded, seekable pseudo-random byte stream (the AES-128-CTR
// key stream of a key derived from a name), generated piece by piece so a file of any size never sits in
// memory, and a sink that checks what a read returns against the same stream.
import { createCipheriv, createHash } from "node:crypto";
import { Writable } from "node:stream";
import { DmfsError } from "../src/errors.ts";

const AES_BLOCK = 16;
/** Bytes compared at the start and at the end of every piece a read delivers. */
const CHECKED_BYTES_PER_END = 4096;

/** `length` bytes of the stream named `seed`, from byte `offset` on. */
export function streamBytes(seed: string, offset: number, length: number): Buffer {
  const firstBlock = Math.floor(offset / AES_BLOCK);
  const skip = offset - firstBlock * AES_BLOCK;
  const keyStream = cipherAt(seed, firstBlock).update(Buffer.alloc(skip + length));
  return keyStream.subarray(skip);
}

/** The first `size` bytes of the stream named `seed`, in pieces of `pieceBytes`, made as they are pulled. */
export async function* streamPieces(seed: string, size: number, pieceBytes: number): AsyncGenerator<Buffer> {
  const cipher = cipherAt(seed, 0);
  const zeros = Buffer.alloc(Math.min(pieceBytes, size));
  for (let offset = 0; offset < size; offset += pieceBytes) {
    yield cipher.update(zeros.subarray(0, Math.min(pieceBytes, size - offset)));
  }
}

/**
 * A writable that discards what it is given after comparing the start and the end of every piece with
 * the stream (all of a piece up to 8 KiB), and fails on finish if a piece differed or not exactly `size`
 * bytes arrived. Comparing samples catches a wrong file, a lost, repeated or reordered chunk and
 * truncation without making the check cost as much as the read it checks. Writes never fail, so a writer
 * waiting for "drain" is never left hanging on a stream that errored.
 */
export class StreamCheck extends Writable {
  #received = 0;
  #problem: string | undefined;

  constructor(
    private readonly seed: string,
    private readonly size: number,
    private readonly what: string,
  ) {
    super();
  }

  override _write(piece: Buffer, _encoding: string, done: () => void): void {
    const offset = this.#received;
    this.#received += piece.length;
    this.#problem ??= this.#differenceIn(piece, offset);
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    const problem =
      this.#problem ??
      (this.#received === this.size
        ? undefined
        : `${this.#received} of the ${this.size} bytes uploaded arrived`);
    done(
      problem === undefined
        ? null
        : new DmfsError("E_CHUNK_CORRUPT", `The read of ${this.what} is wrong: ${problem}.`, {
            subject: this.what,
          }),
    );
  }

  #differenceIn(piece: Buffer, offset: number): string | undefined {
    const head = Math.min(piece.length, CHECKED_BYTES_PER_END);
    const tail = Math.max(head, piece.length - CHECKED_BYTES_PER_END);
    for (const [from, to] of [
      [0, head],
      [tail, piece.length],
    ] as const) {
      if (from < to && !piece.subarray(from, to).equals(streamBytes(this.seed, offset + from, to - from))) {
        return `the bytes at offset ${offset + from} differ from the ones uploaded`;
      }
    }
    return undefined;
  }
}

/**
 * A writable that compares every byte it is given with the stream named `seed` (regenerated as the pieces
 * arrive, so nothing is held) and fails on finish if one differed or not exactly `size` bytes arrived.
 * Costs one AES-CTR pass and one compare per byte: for a read whose every byte must be checked.
 */
export class ExactStreamCheck extends Writable {
  readonly #expected: ReturnType<typeof cipherAt>;
  #zeros = Buffer.alloc(0);
  #received = 0;
  #problem: string | undefined;

  constructor(
    seed: string,
    private readonly size: number,
    private readonly what: string,
  ) {
    super();
    this.#expected = cipherAt(seed, 0);
  }

  override _write(piece: Buffer, _encoding: string, done: () => void): void {
    if (this.#zeros.length < piece.length) this.#zeros = Buffer.alloc(piece.length);
    const expected = this.#expected.update(this.#zeros.subarray(0, piece.length));
    if (this.#problem === undefined && !expected.equals(piece)) {
      const at = expected.findIndex((byte, i) => byte !== piece[i]);
      this.#problem = `byte ${this.#received + at} differs from the one uploaded`;
    }
    this.#received += piece.length;
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    const problem =
      this.#problem ??
      (this.#received === this.size ? undefined : `${this.#received} of the ${this.size} bytes arrived`);
    done(
      problem === undefined
        ? null
        : new DmfsError("E_CHUNK_CORRUPT", `The read of ${this.what} is wrong: ${problem}.`, {
            subject: this.what,
          }),
    );
  }
}

// The counter block of AES-CTR is the 16-byte big-endian block index, so the stream can start anywhere.
function cipherAt(seed: string, block: number) {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const counter = Buffer.alloc(AES_BLOCK);
  counter.writeBigUInt64BE(BigInt(block), 8);
  return createCipheriv("aes-128-ctr", key, counter);
}
