// The msgpack codec for bytes that come off the network. Only a plain subset of msgpack is accepted
// (nil, booleans, numbers, strings, binary, arrays, and maps with string keys, nested at most
// MAX_NESTING_DEPTH deep): msgpackr's extension types would let a peer create class instances (Date,
// Error, RegExp, Set, typed arrays), records or string bundles, and its reader recurses per level. A flat,
// iterative scan checks every value before msgpackr sees the bytes, so decoding cannot allocate beyond the
// input, overflow the stack or run user-chosen code paths.

import type { Options } from "msgpackr";
import { Packr, RESERVE_START_SPACE } from "msgpackr";
import { DmfsError } from "../errors.ts";

/** Containers (arrays and maps) nested deeper than this are rejected; messages nest at most 4 deep. */
export const MAX_NESTING_DEPTH = 16;

// One Packr for the process: without records, structured clone or extra types it writes only plain
// msgpack, which is what peers accept. Keys whose value is undefined are left out, as for optional fields
// (`skipValues` is a msgpackr option its type definitions do not list yet).
const packrOptions: Options & { skipValues: unknown[] } = {
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  copyBuffers: false,
  int64AsType: "number",
  skipValues: [undefined],
};
const packr = new Packr(packrOptions);

/** Encodes one value as msgpack; throws E_FRAME_MALFORMED for values outside the plain subset. */
export function encode(value: unknown): Buffer {
  return encodeAfterPrefix(value, 0);
}

/**
 * Encodes one value after `prefixBytes` reserved (unwritten) bytes, so a caller can put a header in front
 * without copying the body. The returned buffer is a view into msgpackr's output buffer, which it never
 * writes over again.
 */
export function encodeAfterPrefix(value: unknown, prefixBytes: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = prefixBytes === 0 ? packr.pack(value) : packr.pack(value, RESERVE_START_SPACE | prefixBytes);
  } catch (cause) {
    throw new DmfsError(
      "E_FRAME_MALFORMED",
      `The message cannot be encoded as msgpack: ${describe(cause)}.`,
      { cause },
    );
  }
  // Dates, undefined in arrays, Maps with non-string keys... would encode to bytes every peer rejects.
  checkPlainMsgpack(bytes.subarray(prefixBytes), "The message holds a value outside plain msgpack");
  return bytes;
}

/**
 * Decodes exactly one msgpack value that fills `bytes`. Maps become plain objects (a `__proto__` key is
 * renamed by msgpackr, so no prototype changes), binary becomes a Buffer viewing `bytes`, and integers
 * beyond 32 bits become numbers. Throws E_FRAME_MALFORMED for anything else.
 */
export function decode(bytes: Uint8Array): unknown {
  checkPlainMsgpack(bytes, "The frame is not valid msgpack");
  // msgpackr's binary values are views of the same type as its input; a Buffer makes them Buffers.
  const source = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return packr.unpack(source);
  } catch (cause) {
    throw new DmfsError("E_FRAME_MALFORMED", `The frame is not valid msgpack: ${describe(cause)}.`, {
      cause,
    });
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message.slice(0, 200) : String(cause).slice(0, 200);
}

/**
 * Walks the msgpack structure in `bytes` without building values and throws E_FRAME_MALFORMED unless it
 * is exactly one value of the plain subset. The loop ends: each step consumes at least one byte or
 * closes a container opened by an earlier byte.
 */
function checkPlainMsgpack(bytes: Uint8Array, problem: string): void {
  const malformed = (reason: string, offset: number): DmfsError =>
    new DmfsError("E_FRAME_MALFORMED", `${problem}: ${reason} at byte ${offset}.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  // For each open container: how many values it still holds (a map counts keys and values).
  const remaining: number[] = [1];
  const isMap: boolean[] = [false];
  let offset = 0;

  const need = (count: number, at: number): void => {
    if (count > end - offset) throw malformed("truncated value", at);
  };

  while (remaining.length > 0) {
    const depth = remaining.length - 1;
    const left = remaining[depth] ?? 0;
    if (left === 0) {
      remaining.pop();
      isMap.pop();
      continue;
    }
    remaining[depth] = left - 1;
    const expectsKey = isMap[depth] === true && left % 2 === 0;

    const start = offset;
    need(1, start);
    const token = bytes[offset++] ?? 0;

    // Strings are the only keys a message uses; anything else in key position is malformed.
    const isString = (token >= 0xa0 && token <= 0xbf) || (token >= 0xd9 && token <= 0xdb);
    if (expectsKey && !isString) throw malformed("map key that is not a string", start);

    let openCount = -1;
    let openMap = false;
    if (token <= 0x7f || token >= 0xe0 || (token >= 0xc0 && token <= 0xc3 && token !== 0xc1)) {
      // fixint, negative fixint, nil, false, true
    } else if (token >= 0xa0 && token <= 0xbf) {
      const length = token - 0xa0;
      need(length, start);
      offset += length;
    } else if (token >= 0x80 && token <= 0x8f) {
      openCount = (token - 0x80) * 2;
      openMap = true;
    } else if (token >= 0x90 && token <= 0x9f) {
      openCount = token - 0x90;
    } else {
      switch (token) {
        case 0xcc:
        case 0xd0:
          need(1, start);
          offset += 1;
          break;
        case 0xcd:
        case 0xd1:
          need(2, start);
          offset += 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          need(4, start);
          offset += 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          need(8, start);
          offset += 8;
          break;
        case 0xc4:
        case 0xd9: {
          need(1, start);
          const length = view.getUint8(offset);
          offset += 1;
          need(length, start);
          offset += length;
          break;
        }
        case 0xc5:
        case 0xda: {
          need(2, start);
          const length = view.getUint16(offset);
          offset += 2;
          need(length, start);
          offset += length;
          break;
        }
        case 0xc6:
        case 0xdb: {
          need(4, start);
          const length = view.getUint32(offset);
          offset += 4;
          need(length, start);
          offset += length;
          break;
        }
        case 0xdc:
          need(2, start);
          openCount = view.getUint16(offset);
          offset += 2;
          break;
        case 0xdd:
          need(4, start);
          openCount = view.getUint32(offset);
          offset += 4;
          break;
        case 0xde:
          need(2, start);
          openCount = view.getUint16(offset) * 2;
          offset += 2;
          openMap = true;
          break;
        case 0xdf:
          need(4, start);
          openCount = view.getUint32(offset) * 2;
          offset += 4;
          openMap = true;
          break;
        default:
          // 0xc1 (never used) and every extension type (0xc7-0xc9, 0xd4-0xd8)
          throw malformed(`unsupported msgpack type 0x${token.toString(16)}`, start);
      }
    }

    if (openCount >= 0) {
      if (remaining.length > MAX_NESTING_DEPTH) throw malformed("containers nested too deeply", start);
      // Every value takes at least one byte, so a count beyond the remaining bytes is a lie.
      need(openCount, start);
      remaining.push(openCount);
      isMap.push(openMap);
    }
  }
  if (offset !== end) throw malformed("trailing bytes after the message", offset);
}
