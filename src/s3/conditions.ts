// Conditional GET and HEAD (RFC 9110 section 13, as S3 applies it): If-Match, else If-Unmodified-Since,
// can fail the request (412 PreconditionFailed); If-None-Match, else If-Modified-Since, can make it
// 304 Not Modified. HTTP dates have whole seconds, so times are compared in seconds.
import type { IncomingHttpHeaders } from "node:http";

export type ConditionOutcome = "proceed" | "not-modified" | "precondition-failed";

export function evaluateConditions(
  headers: IncomingHttpHeaders,
  object: { etag: string; lastModified: Date },
): ConditionOutcome {
  const ifMatch = one(headers["if-match"]);
  const ifNoneMatch = one(headers["if-none-match"]);
  const modified = Math.floor(object.lastModified.getTime() / 1000);
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, object.etag)) return "precondition-failed";
  } else {
    const since = httpDateSeconds(headers["if-unmodified-since"]);
    if (since !== undefined && modified > since) return "precondition-failed";
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, object.etag)) return "not-modified";
  } else {
    const since = httpDateSeconds(headers["if-modified-since"]);
    if (since !== undefined && modified <= since) return "not-modified";
  }
  return "proceed";
}

/** `"a", W/"b"` or `*` against an ETag (without its quotes). */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((item) => {
    const tag = item.trim().replace(/^W\//, "");
    return tag === "*" || tag.replace(/^"(.*)"$/, "$1") === etag;
  });
}

function httpDateSeconds(value: string | string[] | undefined): number | undefined {
  const text = one(value);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  // An invalid date is ignored, as the RFC says.
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}
