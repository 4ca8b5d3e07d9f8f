// S3's XML bodies, built and parsed with fast-xml-parser: the documents the gateway answers with, and
// the request bodies it reads (DeleteObjects, CompleteMultipartUpload). Keys are text, never numbers: parseTagValue stays off
// so "0001" stays "0001", and values are not trimmed so keys keep their spaces.
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { S3Error } from "./s3-error.ts";

export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";
/** The most keys one DeleteObjects request may name (S3's own limit). */
export const MAX_DELETE_KEYS = 1000;

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", processEntities: true });
const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === "Object" || name === "Part",
});

/** An XML document with `root` as its root element, in the S3 namespace unless `namespace` is false. */
export function xmlDocument(root: string, body: Record<string, unknown>, namespace = true): string {
  const element = namespace ? { "@_xmlns": S3_NAMESPACE, ...body } : body;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: element })}`;
}

export interface DeleteRequest {
  keys: string[];
  quiet: boolean;
}

/** The body of a DeleteObjects request: `<Delete><Quiet/>?<Object><Key/></Object>+</Delete>`. */
export function parseDeleteRequest(body: string): DeleteRequest {
  if (XMLValidator.validate(body) !== true) throw malformed("the body is not well-formed XML");
  const doc = parser.parse(body) as Record<string, unknown>;
  const del = doc.Delete;
  if (typeof del !== "object" || del === null) throw malformed("the root element is not Delete");
  const { Object: objects, Quiet: quiet } = del as { Object?: unknown[]; Quiet?: unknown };
  if (!Array.isArray(objects) || objects.length === 0) throw malformed("Delete names no Object");
  if (objects.length > MAX_DELETE_KEYS) throw malformed(`Delete names more than ${MAX_DELETE_KEYS} objects`);
  const keys = objects.map((o) => {
    const key = typeof o === "object" && o !== null ? (o as { Key?: unknown }).Key : undefined;
    if (typeof key !== "string" || key === "") throw malformed("an Object without one non-empty Key");
    return key;
  });
  if (quiet !== undefined && quiet !== "true" && quiet !== "false")
    throw malformed("Quiet is not true or false");
  return { keys, quiet: quiet === "true" };
}

/** A part CompleteMultipartUpload names: its number and the ETag the client was given for it. */
export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** The most parts one upload may have (S3's own limit), so the most a Complete body may name. */
export const MAX_COMPLETE_PARTS = 10_000;

/**
 * The body of a CompleteMultipartUpload request: `<CompleteMultipartUpload><Part><PartNumber/><ETag/>
 * (checksums, ignored)</Part>+</CompleteMultipartUpload>`, parts as listed (their order is checked by the
 * caller: InvalidPartOrder is not a malformed body). ETags lose their quotes.
 */
export function parseCompleteRequest(body: string): CompletedPart[] {
  if (XMLValidator.validate(body) !== true) throw malformed("the body is not well-formed XML");
  const doc = parser.parse(body) as Record<string, unknown>;
  const complete = doc.CompleteMultipartUpload;
  if (typeof complete !== "object" || complete === null)
    throw malformed("the root element is not CompleteMultipartUpload");
  const parts = (complete as { Part?: unknown }).Part;
  if (!Array.isArray(parts) || parts.length === 0) throw malformed("CompleteMultipartUpload names no Part");
  if (parts.length > MAX_COMPLETE_PARTS) throw malformed(`more than ${MAX_COMPLETE_PARTS} parts`);
  return parts.map((p) => {
    const { PartNumber: n, ETag: etag } = (typeof p === "object" && p !== null ? p : {}) as {
      PartNumber?: unknown;
      ETag?: unknown;
    };
    if (typeof n !== "string" || !/^\s*\d{1,5}\s*$/.test(n)) throw malformed("a Part without a PartNumber");
    const partNumber = Number(n);
    if (partNumber < 1 || partNumber > MAX_COMPLETE_PARTS)
      throw malformed(`PartNumber ${partNumber} is not from 1 to ${MAX_COMPLETE_PARTS}`);
    if (typeof etag !== "string") throw malformed(`part ${partNumber} has no ETag`);
    return { partNumber, etag: etag.trim().replace(/^"(.*)"$/, "$1") };
  });
}

function malformed(why: string): S3Error {
  return new S3Error(
    "MalformedXML",
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  );
}
