// One authenticated link over a TLS socket: frames in and out, schema and role checks on every
// received message, request/response correlation by id, socket backpressure on writes, and a cap on the
// peer's requests in flight (the socket is paused above it).
// The peer link and gateway actors own a Connection; they never touch the socket themselves.
import { EventEmitter } from "node:events";
import type { TLSSocket } from "node:tls";
import { DmfsError, type ErrorCode, ErrorCodes, isDmfsError } from "../errors.ts";
import { encodeFrame, encodeFrameParts, FrameDecoder } from "./frame.ts";
import { type Hello, MAX_ERROR_MESSAGE_CHARS, type Message, parseMessage } from "./messages.ts";
import { allowedFrom } from "./roles.ts";

export type PeerRole = "node" | "client";

/** Messages as they are sent: a request's id is assigned by `request`. */
export type Outgoing = Message;
type RequestOf<M> = M extends { id: number } ? Omit<M, "id"> : never;
export type OutgoingRequest = RequestOf<Message>;

export interface ConnectionCounters {
  bytesIn: number;
  bytesOut: number;
  framesRejected: Record<string, number>;
}

export interface ConnectionOptions {
  /** The role in the peer's certificate: it decides which messages the peer may send. */
  peerRole: PeerRole;
  maxFrameBytes: number;
  /** Shared with the node so status can report totals across connections. */
  counters: ConnectionCounters;
  requestTimeoutMs?: number;
  /** Caps the peer's requests being served at once; unset, requests are taken as fast as they come. */
  requestLimits?: RequestLimits;
}

/**
 * How much of a peer's work a node takes on at once. While as many requests or request bytes as this
 * are in flight (received, not yet answered), no further frame is read: the socket is paused, so TCP
 * slows the sender down and nothing is allocated for its next request. A single request larger than
 * `maxBytes` is still taken when nothing else is in flight.
 */
export interface RequestLimits {
  maxRequests: number;
  maxBytes: number;
}

/**
 * A node's limits for links carrying frames of at most `maxFrameBytes`: room for eight full frames (a
 * client's upload window), and more small requests than that.
 */
export function requestLimitsFor(maxFrameBytes: number): RequestLimits {
  return { maxRequests: 32, maxBytes: 8 * maxFrameBytes };
}

/** Tells the connection that a delivered request has been answered, freeing its room in the limits. */
export type Settle = () => void;

interface Pending {
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Events: "message" (a validated message that is not a response, and the `Settle` to call once it has
 * been answered - with `requestLimits` set, forgetting it stalls the connection), "close" (reason:
 * DmfsError | undefined).
 */
export class Connection extends EventEmitter<{
  message: [Message, Settle];
  close: [DmfsError | undefined];
}> {
  readonly peerRole: PeerRole;
  readonly remoteAddress: string;
  private readonly decoder: FrameDecoder;
  private readonly limits: { maxFrameBytes: number };
  private readonly counters: ConnectionCounters;
  private readonly requestTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private drainWait: Promise<void> | undefined;
  private closed = false;
  private closeReason: DmfsError | undefined;
  /** Messages that arrive before anyone listens (between hello and the owner attaching) wait here. */
  private held: [Message, Settle][] | undefined = [];
  private readonly requestLimits: RequestLimits | undefined;
  private requestsInFlight = 0;
  private requestBytesInFlight = 0;
  /** Set while frames are being taken, so a request settled meanwhile does not start a second loop. */
  private takingFrames = false;

  constructor(
    private readonly socket: TLSSocket,
    opts: ConnectionOptions,
  ) {
    super();
    this.peerRole = opts.peerRole;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.limits = { maxFrameBytes: opts.maxFrameBytes };
    this.decoder = new FrameDecoder(this.limits);
    this.counters = opts.counters;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.requestLimits = opts.requestLimits;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) =>
      this.close(new DmfsError("E_CONNECTION_CLOSED", `connection error: ${err.message}`)),
    );
    socket.on("close", () => this.close(undefined));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Holds incoming messages until `resume`, for the moment between hello and the owner listening. */
  pause(): void {
    this.held ??= [];
  }

  /** Starts delivering "message" events, first the ones that arrived before. */
  resume(): void {
    const held = this.held;
    this.held = undefined;
    for (const [m, settle] of held ?? []) this.emit("message", m, settle);
  }

  /** Sends one message; resolves once the socket accepts more (backpressure). */
  async send(message: Outgoing): Promise<void> {
    if (this.closed) throw this.closedError();
    const parts = encodeFrameParts(message, this.limits);
    let flowing = true;
    if (parts.length > 1) this.socket.cork();
    for (const part of parts) {
      this.counters.bytesOut += part.length;
      flowing = this.socket.write(part);
    }
    if (parts.length > 1) this.socket.uncork();
    if (!flowing) {
      await this.drained();
      if (this.closed) throw this.closedError();
    }
  }

  /** One wait for `drain` (or close) shared by every sender blocked on backpressure. */
  private drained(): Promise<void> {
    this.drainWait ??= new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.off("close", done);
        this.drainWait = undefined;
        resolve();
      };
      this.socket.on("drain", done);
      this.on("close", done);
    });
    return this.drainWait;
  }

  /** Sends a request and waits for the message whose `re` echoes its id. An `error` reply rejects. */
  request(message: OutgoingRequest, timeoutMs = this.requestTimeoutMs): Promise<Message> {
    if (this.closed) return Promise.reject(this.closedError());
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new DmfsError("E_TIMEOUT", `${message.t} to ${this.remoteAddress} timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...message, id } as Outgoing).catch((err: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  /** Replies to a request with an error message; the connection stays open. */
  async replyError(re: number, err: unknown): Promise<void> {
    const { code, message } = describe(err);
    await this.send({ t: "error", re, code, message }).catch(() => undefined);
  }

  /** Tells the peer why, then closes. Safe to call more than once. */
  async fail(err: DmfsError): Promise<void> {
    if (this.closed) return;
    const { code, message } = describe(err);
    this.socket.end(encodeFrame({ t: "error", code, message }, this.limits));
    // Let the error frame reach the peer; a peer that never reads it is cut off after a second.
    const cutOff = setTimeout(() => this.socket.destroy(), 1_000);
    this.socket.once("close", () => clearTimeout(cutOff));
    this.close(err, { flush: true });
  }

  close(reason: DmfsError | undefined, opts: { flush?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (!opts.flush) this.socket.destroy();
    const err = this.closedError();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.emit("close", reason);
  }

  private closedError(): DmfsError {
    const why = this.closeReason ? `: ${this.closeReason.message}` : "";
    return new DmfsError("E_CONNECTION_CLOSED", `connection to ${this.remoteAddress} closed${why}`);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.counters.bytesIn += chunk.length;
    try {
      this.decoder.append(chunk);
    } catch (err) {
      this.reject(err);
      return;
    }
    this.takeFrames();
  }

  /**
   * Decodes and delivers frames while the peer's requests in flight are under the limits, then pauses
   * the socket if they are not (the bytes already received wait in the decoder) or resumes it.
   */
  private takeFrames(): void {
    if (this.takingFrames) return; // the loop running now sees the room that was freed
    this.takingFrames = true;
    try {
      while (!this.closed && !this.full()) {
        let taken: { message: Message; bytes: number } | undefined;
        try {
          const frame = this.decoder.next();
          taken = frame && { message: this.admit(frame.message), bytes: frame.bytes };
        } catch (err) {
          this.reject(err);
          return;
        }
        if (taken === undefined) break;
        // Outside the try: a listener's own failure is no fault of the peer's frames.
        this.deliver(taken.message, taken.bytes);
      }
    } finally {
      this.takingFrames = false;
    }
    if (this.closed) return;
    if (this.full()) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  private full(): boolean {
    const limits = this.requestLimits;
    return (
      limits !== undefined &&
      (this.requestsInFlight >= limits.maxRequests || this.requestBytesInFlight >= limits.maxBytes)
    );
  }

  /** Counts a bad frame or message by its code and closes the link, telling the peer why. */
  private reject(err: unknown): void {
    const e = isDmfsError(err) ? err : new DmfsError("E_FRAME_MALFORMED", String(err));
    this.counters.framesRejected[e.code] = (this.counters.framesRejected[e.code] ?? 0) + 1;
    void this.fail(e);
  }

  private admit(raw: unknown): Message {
    const m = parseMessage(raw);
    if (!allowedFrom(this.peerRole, m.t)) {
      throw new DmfsError("E_UNAUTHORIZED", `a ${this.peerRole} may not send ${m.t}`);
    }
    return m;
  }

  private deliver(m: Message, bytes: number): void {
    if ("re" in m && typeof m.re === "number") {
      const p = this.pending.get(m.re);
      if (!p) return; // a reply that arrived after its timeout
      this.pending.delete(m.re);
      clearTimeout(p.timer);
      if (m.t === "error") p.reject(new DmfsError(asCode(m.code), m.message));
      else p.resolve(m);
      return;
    }
    const settle = "id" in m && this.requestLimits ? this.track(bytes) : settled;
    if (this.held) this.held.push([m, settle]);
    else this.emit("message", m, settle);
  }

  /** Counts one request in flight until its settle is called (once; later calls do nothing). */
  private track(bytes: number): Settle {
    this.requestsInFlight += 1;
    this.requestBytesInFlight += bytes;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.requestsInFlight -= 1;
      this.requestBytesInFlight -= bytes;
      if (!this.closed) this.takeFrames();
    };
  }
}

const settled: Settle = () => undefined;

/**
 * Exchanges hellos and checks theirs. The side that dialled sends first; the side that accepted
 * (`answer: true`) sends its hello only once the peer's passed the check, so a peer it refuses hears
 * only the reason and never counts itself connected.
 */
export async function exchangeHello(
  conn: Connection,
  mine: Hello,
  check: (theirs: Hello) => string | DmfsError | undefined,
  timeoutMs = 5_000,
  opts: { answer?: boolean } = {},
): Promise<Hello> {
  const theirs = new Promise<Hello>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DmfsError("E_TIMEOUT", `no hello from ${conn.remoteAddress} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: Message) => {
      clearTimeout(timer);
      conn.off("message", onMessage);
      conn.off("close", onClose);
      if (m.t === "hello") resolve(m);
      else if (m.t === "error") reject(new DmfsError(asCode(m.code), `peer refused: ${m.message}`));
      else reject(new DmfsError("E_HELLO_MISMATCH", `expected hello from ${conn.remoteAddress}, got ${m.t}`));
    };
    const onClose = (reason: DmfsError | undefined) => {
      clearTimeout(timer);
      conn.off("message", onMessage);
      reject(reason ?? new DmfsError("E_CONNECTION_CLOSED", `${conn.remoteAddress} closed before hello`));
    };
    conn.on("message", onMessage);
    conn.once("close", onClose);
  });
  conn.resume();
  if (!opts.answer) await conn.send(mine);
  let hello: Hello;
  try {
    hello = await theirs;
  } catch (err) {
    conn.close(isDmfsError(err) ? err : undefined);
    throw err;
  }
  const problem = check(hello);
  if (problem) {
    const err = typeof problem === "string" ? new DmfsError("E_HELLO_MISMATCH", problem) : problem;
    await conn.fail(err);
    throw err;
  }
  // Hold later messages until the owner attaches its listener.
  conn.pause();
  if (opts.answer) await conn.send(mine);
  return hello;
}

function describe(err: unknown): { code: ErrorCode; message: string } {
  if (isDmfsError(err)) return { code: err.code, message: clip(err.message) };
  return { code: "E_IO", message: clip(err instanceof Error ? err.message : String(err)) };
}

/** The wire caps error texts; a longer one is cut rather than making the reply itself invalid. */
function clip(text: string): string {
  return text.length <= MAX_ERROR_MESSAGE_CHARS ? text : `${text.slice(0, MAX_ERROR_MESSAGE_CHARS - 3)}...`;
}

function asCode(code: string): ErrorCode {
  return code in ErrorCodes ? (code as ErrorCode) : "E_IO";
}
