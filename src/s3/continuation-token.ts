// ListObjectsV2 continuation tokens: opaque to clients, here the place the next page starts after - the
// last key returned, or the last common prefix (whose whole group the next page skips). Versioned, so a
// later listing index can change the form and still refuse old tokens clearly.
import { z } from "zod";
import { S3Error } from "./s3-error.ts";

export interface ListPosition {
  /** The last key or common prefix the previous page returned. */
  after: string;
  /** `after` is a common prefix: every key under it was rolled into it. */
  prefix: boolean;
}

const TokenSchema = z.object({ v: z.literal(1), a: z.string(), p: z.boolean() });
const MAX_TOKEN_CHARS = 8192;

export function encodeContinuationToken(position: ListPosition): string {
  return Buffer.from(JSON.stringify({ v: 1, a: position.after, p: position.prefix })).toString("base64url");
}

export function decodeContinuationToken(token: string): ListPosition {
  const invalid = new S3Error("InvalidArgument", "The continuation token provided is incorrect", {
    ArgumentName: "continuation-token",
  });
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]*$/.test(token)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid;
  }
  const result = TokenSchema.safeParse(parsed);
  if (!result.success) throw invalid;
  return { after: result.data.a, prefix: result.data.p };
}
