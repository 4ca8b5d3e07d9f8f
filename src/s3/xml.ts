// S3's XML bodies, built and parsed with fast-xml-parser: the documents the gateway answers with, and
// the one request body it reads (DeleteObjects). Keys are text, never numbers: parseTagValue stays off
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
  isArray: (name) => name === "Object",
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

function malformed(why: string): S3Error {
  return new S3Error(
    "MalformedXML",
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  );
}
