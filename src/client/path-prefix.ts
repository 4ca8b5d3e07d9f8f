// The range of paths a prefix selects, for an index ordered the way SQLite's default (BINARY) collation
// orders text: by UTF-8 bytes, which is the order of code points. Every path starting with `prefix` is
// >= prefix and < its upper bound; every other path is outside that range.

const MAX_CODE_POINT = 0x10ffff;
const SURROGATES_START = 0xd800;
const SURROGATES_END = 0xdfff;

/**
 * The least string after every string that starts with `prefix`: `prefix` with its last code point
 * raised by one (surrogates skipped; U+10FFFF dropped and the one before it raised instead). Undefined
 * when no string bounds them (an empty prefix, or one made only of U+10FFFF).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = [...prefix];
  while (codePoints.length > 0) {
    const last = (codePoints.pop() as string).codePointAt(0) as number;
    if (last < MAX_CODE_POINT) {
      const next = last + 1 === SURROGATES_START ? SURROGATES_END + 1 : last + 1;
      return codePoints.join("") + String.fromCodePoint(next);
    }
  }
  return undefined;
}
