// The Range header of a GetObject: one byte range, as S3 supports. RFC 9110 says a Range the server
// cannot parse is ignored (the whole object, 200); a parsable one that misses the object is 416.
import { S3Error } from "./s3-error.ts";

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

const RANGE = /^bytes=(\d*)-(\d*)$/;

/** The slice of an object of `size` bytes that `header` asks for; undefined means the whole object. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = RANGE.exec(header.trim());
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    // A suffix: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) throw unsatisfiable(header, size);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined;
  if (!Number.isSafeInteger(start) || start >= size) throw unsatisfiable(header, size);
  return { start, end };
}

function unsatisfiable(header: string, size: number): S3Error {
  return new S3Error("InvalidRange", `The requested range ${header} is not satisfiable for ${size} bytes`, {
    RangeRequested: header,
    ActualObjectSize: String(size),
  });
}
