// Frames on a connection: a 4-byte big-endian body length, then one msgpack message. The length is
// checked against the maximum as soon as its 4 bytes arrive, before anything is allocated for the body.

import { DmfsError } from "../errors.ts";
import { decode, encodeAfterPrefix } from "./codec.ts";
import type { Message } from "./messages.ts";

export const FRAME_HEADER_BYTES = 4;

/** Room for a message's fields around a chunk's bytes (the design's "small margin"). */
export const FRAME_MARGIN_BYTES = 64 * 1024;

/** The length field is 32 bits wide; no maximum can exceed it. */
const LARGEST_ENCODABLE_BODY = 0xffff_ffff;

/** The largest body a frame may announce when chunks are `chunkSize` bytes; the 4 length bytes are extra. */
export function maxFrameBytesFor(chunkSize: number): number {
  // Control messages (member lists, catalog pages) need room even when chunks are small.
  return Math.max(chunkSize, MIN_CHUNK_ROOM) + FRAME_MARGIN_BYTES;
}

/** Below this chunk size the frame limit stays as for 1 MiB chunks. */
const MIN_CHUNK_ROOM = 1024 * 1024;

export interface FrameLimits {
  /** The largest body length (not counting the 4 length bytes) a frame may announce. */
  readonly maxFrameBytes: number;
}

/** Encodes `message` as one frame; throws E_FRAME_TOO_LARGE when its body exceeds the maximum. */
export function encodeFrame(message: Message, limits: FrameLimits): Buffer {
  checkLimits(limits);
  const frame = encodeAfterPrefix(message, FRAME_HEADER_BYTES);
  const bodyLength = frame.length - FRAME_HEADER_BYTES;
  if (bodyLength > limits.maxFrameBytes) throw tooLarge(bodyLength, limits.maxFrameBytes, message.t);
  frame.writeUInt32BE(bodyLength, 0);
  return frame;
}

/** A binary `data` field at least this large is written after the frame's head, not copied into it. */
const SPLIT_PAYLOAD_BYTES = 64 * 1024;
/** msgpack for the key "data" (fixstr of 4) followed by a bin32 header; the 4 length bytes come last. */
const DATA_KEY_AND_BIN32 = [0xa4, 0x64, 0x61, 0x74, 0x61, 0xc6];

/**
 * The same frame as `encodeFrame`, as parts to write one after the other. A message carrying a large
 * binary `data` field (a chunk) comes as three parts - the length and every other field, the `data` key
 * and bin32 header, and the caller's bytes themselves - so a chunk reaches the socket without being
 * copied. The caller must not change or transfer `data` until the socket has taken it.
 */
export function encodeFrameParts(
  message: Message,
  limits: FrameLimits,
): Buffer[] | [Buffer, Buffer, Uint8Array] {
  const data = (message as { data?: unknown }).data;
  if (!(data instanceof Uint8Array) || data.length < SPLIT_PAYLOAD_BYTES)
    return [encodeFrame(message, limits)];
  checkLimits(limits);
  const { data: _payload, ...rest } = message as Message & { data: Uint8Array };
  const head = encodeAfterPrefix(rest, FRAME_HEADER_BYTES);
  const mapHeader = head[FRAME_HEADER_BYTES] as number;
  // Messages are small maps (fixmap, fewer than 15 fields): one more field is one more in the header.
  if ((mapHeader & 0xf0) !== 0x80 || (mapHeader & 0x0f) === 0x0f) return [encodeFrame(message, limits)];
  head[FRAME_HEADER_BYTES] = mapHeader + 1;
  const dataHeader = Buffer.allocUnsafe(DATA_KEY_AND_BIN32.length + 4);
  dataHeader.set(DATA_KEY_AND_BIN32, 0);
  dataHeader.writeUInt32BE(data.length, DATA_KEY_AND_BIN32.length);
  const bodyLength = head.length - FRAME_HEADER_BYTES + dataHeader.length + data.length;
  if (bodyLength > limits.maxFrameBytes) throw tooLarge(bodyLength, limits.maxFrameBytes, message.t);
  head.writeUInt32BE(bodyLength, 0);
  return [head, dataHeader, data];
}

/**
 * Cuts a byte stream into frames and decodes each one. Push every chunk read from the connection; each
 * push returns the messages completed by it, in order - or `append` the chunk and take messages one at a
 * time with `next`, when the reader decides how many it can take now. Input is kept as a list of the chunks received and
 * a body is assembled only once all its bytes are there, so memory stays below one maximum frame plus the
 * last chunk. Every decoded message gets a body buffer of its own, so its binary fields share an
 * ArrayBuffer with nothing else and can be transferred to a worker.
 *
 * The first bad frame poisons the decoder: that push and every later one throw the same DmfsError
 * (E_FRAME_TOO_LARGE or E_FRAME_MALFORMED), and messages decoded earlier in that push are dropped, since
 * the connection is closed anyway.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Body length announced by the frame being read, once its 4 length bytes are in. */
  #bodyLength: number | undefined;
  #failure: DmfsError | undefined;

  constructor(limits: FrameLimits) {
    checkLimits(limits);
    this.#maxFrameBytes = limits.maxFrameBytes;
  }

  /** Bytes received but not yet part of a returned message. */
  get bufferedBytes(): number {
    return this.#pendingBytes + (this.#bodyLength === undefined ? 0 : FRAME_HEADER_BYTES);
  }

  /** Appends `chunk` and returns every message it completes, in order. */
  push(chunk: Uint8Array): unknown[] {
    this.append(chunk);
    const messages: unknown[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) messages.push(frame.message);
    return messages;
  }

  /**
   * Keeps `chunk` without decoding anything, so a reader that has enough work can stop taking frames
   * (`next`) while the bytes already received wait here.
   */
  append(chunk: Uint8Array): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (chunk.length > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
  }

  /** The next complete message and its body's length, or undefined until more bytes arrive. */
  next(): { message: unknown; bytes: number } | undefined {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return this.#decodeNext();
    } catch (err) {
      this.#failure =
        err instanceof DmfsError
          ? err
          : new DmfsError("E_FRAME_MALFORMED", "The frame could not be decoded.", { cause: err });
      this.#pending = [];
      this.#pendingBytes = 0;
      throw this.#failure;
    }
  }

  #decodeNext(): { message: unknown; bytes: number } | undefined {
    if (this.#bodyLength === undefined) {
      if (this.#pendingBytes < FRAME_HEADER_BYTES) return undefined;
      const announced = this.#takeLength();
      if (announced === 0) {
        throw new DmfsError("E_FRAME_MALFORMED", "The peer sent an empty frame, which holds no message.");
      }
      if (announced > this.#maxFrameBytes) throw tooLarge(announced, this.#maxFrameBytes);
      this.#bodyLength = announced;
    }
    const bytes = this.#bodyLength;
    if (this.#pendingBytes < bytes) return undefined;
    const body = this.#takeBody(bytes);
    this.#bodyLength = undefined;
    return { message: decode(body), bytes };
  }

  /** Removes the 4 length bytes (all pending, possibly spread over chunks) and returns their value. */
  #takeLength(): number {
    let value = 0;
    let read = 0;
    for (const piece of this.#pending) {
      for (let i = 0; i < piece.length && read < FRAME_HEADER_BYTES; i++, read++) {
        value = value * 256 + (piece[i] ?? 0);
      }
      if (read === FRAME_HEADER_BYTES) break;
    }
    this.#consume(FRAME_HEADER_BYTES);
    return value;
  }

  /** Removes the next `length` bytes (all pending) and copies them into a buffer of their own. */
  #takeBody(length: number): Buffer {
    // Not pooled, so the body's ArrayBuffer holds this body and nothing else.
    const body = Buffer.allocUnsafeSlow(length);
    let filled = 0;
    for (const piece of this.#pending) {
      if (filled === length) break;
      const part = piece.subarray(0, length - filled);
      body.set(part, filled);
      filled += part.length;
    }
    this.#consume(length);
    return body;
  }

  /** Drops `length` pending bytes from the front, keeping the rest of a partly used chunk as a view. */
  #consume(length: number): void {
    let left = length;
    let used = 0;
    for (const piece of this.#pending) {
      if (left < piece.length) break;
      left -= piece.length;
      used += 1;
    }
    const rest = used === 0 ? this.#pending : this.#pending.slice(used);
    const partial = rest[0];
    if (left > 0 && partial !== undefined) rest[0] = partial.subarray(left);
    this.#pending = rest;
    this.#pendingBytes -= length;
  }
}

function checkLimits(limits: FrameLimits): void {
  const max = limits.maxFrameBytes;
  if (!Number.isInteger(max) || max < 1 || max > LARGEST_ENCODABLE_BODY) {
    throw new DmfsError(
      "E_CONFIG",
      `The maximum frame size must be a whole number of bytes from 1 to ${LARGEST_ENCODABLE_BODY}, not ${max}.`,
      { subject: "maxFrameBytes" },
    );
  }
}

function tooLarge(announced: number, max: number, messageType?: string): DmfsError {
  const what = messageType === undefined ? "A frame" : `A ${messageType} frame`;
  return new DmfsError(
    "E_FRAME_TOO_LARGE",
    `${what} of ${announced} bytes is larger than the maximum of ${max} bytes.`,
    messageType === undefined ? undefined : { subject: messageType },
  );
}
