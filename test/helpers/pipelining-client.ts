// A raw client that pipelines chunk writes to one node as fast as the node reads them: frames built by
// the project's codec go out back to back over one TLS connection with the client certificate, limited
// only by the socket's backpressure, so the node alone decides how much it takes on. Each write is timed
// from the moment the socket took its frame to the moment its answer arrived.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import type { ClusterIdentity } from "../../src/cluster/cluster-dir.ts";
import { loadBlake3 } from "../../src/crypto/blake3.ts";
import { chunkIdOf } from "../../src/crypto/chunk-format.ts";
import { splitHostPort } from "../../src/node/address.ts";
import { encodeFrame, encodeFrameParts, FrameDecoder, maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { type Message, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { clientOptions } from "../../src/protocol/tls.ts";

export interface PipelinedWrites {
  /** Milliseconds from the frame entering the socket to its answer, by request (index = id - 1). */
  latencyMs: number[];
  /** Request ids in the order their answers arrived. */
  answered: number[];
  /** Answers that were errors, as "code: message". */
  errors: string[];
  elapsedMs: number;
}

export interface PipelineOptions {
  addr: string;
  identity: ClusterIdentity;
  count: number;
  chunkBytes: number;
  /** Requests allowed to wait for an answer at once; unbounded (pipelined) when omitted. */
  window?: number;
  /** Called with the number of answers so far, after each one. */
  onAnswer?: (answered: number) => void;
}

/** Sends `count` distinct chunks of `chunkBytes` as `file.chunk.write` and waits for every answer. */
export async function pipelineChunkWrites(opts: PipelineOptions): Promise<PipelinedWrites> {
  const limits = { maxFrameBytes: maxFrameBytesFor(opts.chunkBytes) };
  const { host, port } = splitHostPort(opts.addr);
  const socket: TLSSocket = tlsConnect({ ...clientOptions(opts.identity), host, port });
  await once(socket, "secureConnect");
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(limits);
  const replies: Message[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    for (const m of decoder.push(chunk)) replies.push(m as Message);
    wake?.();
  });
  socket.on("close", () => {
    closed = true;
    wake?.();
  });
  const nextReply = async (): Promise<Message> => {
    while (replies.length === 0) {
      if (closed) throw new Error("the node closed the connection");
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
    return replies.shift() as Message;
  };

  const hello = {
    t: "hello",
    protocol: PROTOCOL_VERSION,
    clusterId: opts.identity.clusterId,
    role: "client",
  };
  socket.write(encodeFrame(hello as Message, limits));
  const theirs = await nextReply();
  if (theirs.t !== "hello") throw new Error(`expected hello, got ${JSON.stringify(theirs)}`);

  const blake3 = await loadBlake3("wasm");
  const base = randomBytes(opts.chunkBytes);
  const sentAt: number[] = [];
  const result: PipelinedWrites = { latencyMs: [], answered: [], errors: [], elapsedMs: 0 };
  const started = performance.now();
  let answerWaiter: (() => void) | undefined;

  const receive = (async () => {
    while (result.answered.length < opts.count) {
      const m = await nextReply();
      if (!("re" in m) || typeof m.re !== "number") continue;
      result.answered.push(m.re);
      result.latencyMs[m.re - 1] = performance.now() - (sentAt[m.re - 1] ?? Number.NaN);
      if (m.t === "error") result.errors.push(`${m.code}: ${m.message}`);
      opts.onAnswer?.(result.answered.length);
      answerWaiter?.();
      answerWaiter = undefined;
    }
  })();
  // A failed receive (the node closed the link) is reported by the await at the end.
  receive.catch(() => answerWaiter?.());
  for (let i = 0; i < opts.count; i++) {
    if (opts.window !== undefined && i - result.answered.length >= opts.window) {
      await new Promise<void>((r) => {
        answerWaiter = r;
      });
    }
    // Every chunk is a fresh buffer: the socket keeps the bytes it was given until they are sent.
    const data = Buffer.allocUnsafe(opts.chunkBytes);
    base.copy(data);
    data.writeUInt32BE(i, 0);
    const write = { t: "file.chunk.write", id: i + 1, chunkId: chunkIdOf(blake3, data), data } as Message;
    const parts = encodeFrameParts(write, limits);
    socket.cork();
    let flowing = true;
    for (const part of parts) flowing = socket.write(part);
    socket.uncork();
    sentAt[i] = performance.now();
    if (!flowing) await drainedOrClosed(socket);
    if (closed) throw new Error(`the node closed the connection after ${i + 1} writes`);
  }
  await receive;
  result.elapsedMs = performance.now() - started;
  socket.destroy();
  return result;
}

function drainedOrClosed(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
