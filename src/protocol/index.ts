// The wire protocol: frames (4-byte length + one msgpack message), the msgpack codec for untrusted bytes,
// the zod schema of every message, and which certificate role may send which message.
// Receiving: FrameDecoder.push(bytes) -> raw values -> parseMessage -> allowedFrom(peer role, message.t).

export { decode, encode, MAX_NESTING_DEPTH } from "./codec.ts";
export {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_MARGIN_BYTES,
  FrameDecoder,
  type FrameLimits,
  maxFrameBytesFor,
} from "./frame.ts";
export * from "./messages.ts";
export { allowedFrom } from "./roles.ts";
