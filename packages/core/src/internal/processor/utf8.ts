/**
 * UTF-8 helpers for short strings (partition keys, hash keys): a JavaScript loop beats a call into
 * the native encoder for strings of a few dozen characters; longer strings go native.
 *
 * Lone surrogates are written as U+FFFD (EF BF BD), exactly as `TextEncoder` and `Buffer` do.
 *
 * @internal
 */

const encoder = new TextEncoder()
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const SHORT = 64

/** The number of bytes `s` takes in UTF-8. */
export const utf8Length = (s: string): number => {
  const length = s.length
  if (length > SHORT) return Buffer.byteLength(s, "utf8")
  let bytes = length
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length && isLowSurrogate(s.charCodeAt(i + 1))) {
      // a surrogate pair: 2 UTF-16 units, 4 bytes
      bytes += 2
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}

const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/** Writes `s` at `offset` and returns the number of bytes written (`utf8Length(s)` of them). */
export const writeUtf8 = (s: string, target: Uint8Array, offset: number): number => {
  const length = s.length
  if (length > SHORT) return encoder.encodeInto(s, target.subarray(offset)).written
  let p = offset
  for (let i = 0; i < length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      target[p++] = c
    } else if (c < 0x800) {
      target[p++] = 0xc0 | (c >> 6)
      target[p++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && isLowSurrogate(next)) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        i++
        target[p++] = 0xf0 | (c >> 18)
        target[p++] = 0x80 | ((c >> 12) & 0x3f)
        target[p++] = 0x80 | ((c >> 6) & 0x3f)
        target[p++] = 0x80 | (c & 0x3f)
      } else {
        target[p++] = 0xef
        target[p++] = 0xbf
        target[p++] = 0xbd
      }
    } else {
      target[p++] = 0xe0 | (c >> 12)
      target[p++] = 0x80 | ((c >> 6) & 0x3f)
      target[p++] = 0x80 | (c & 0x3f)
    }
  }
  return p - offset
}

/** The slab short strings are encoded into, and where its free part starts. */
const SLAB_SIZE = 64 * 1024
let slab: Buffer | undefined
let slabOffset = SLAB_SIZE
/** Strings of at least this many bytes at most go to the slab. */
const SLAB_MIN = 768

/**
 * UTF-8 bytes of `s`, without an `ArrayBuffer` per record (as `TextEncoder.encode` makes). A string of
 * a few hundred bytes to 8 KiB is written straight into a shared 64 KiB slab and returned as a view of
 * it: no length pass before the write, and a new slab every ~60 records of 1 KiB where `Buffer.from`'s
 * 8 KiB pool needs one every 7 (~40 % less time per 1 KiB record). Shorter strings come from
 * `Buffer.from` (its pool), longer ones get a buffer of their own. The result is a `Buffer` viewing
 * part of a shared buffer, so `data.buffer` is not the record's alone; use `data` itself (offset and
 * length).
 */
export const encodeUtf8 = (s: string): Uint8Array => {
  const most = s.length * 3 // UTF-8 bytes at most (a UTF-16 unit is at most 3 bytes)
  // (short strings: Node's pool serves them well enough, with less work per call)
  if (most < SLAB_MIN || most > SLAB_SIZE / 8) return Buffer.from(s, "utf8")
  if (slab === undefined || SLAB_SIZE - slabOffset < most) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
    slabOffset = 0
  }
  const start = slabOffset
  const written = slab.write(s, start)
  slabOffset = (start + written + 7) & ~7 // (8-byte aligned, as Node's pool)
  return slab.subarray(start, start + written)
}

/**
 * Reads `bytes[start, end)` as UTF-8. Throws a `TypeError` on malformed UTF-8 (no silent U+FFFD).
 */
export const readUtf8 = (bytes: Uint8Array, start: number, end: number): string => {
  if (end - start <= SHORT) {
    let ascii = ""
    for (let i = start; i < end; i++) {
      const b = bytes[i]
      if (b >= 0x80) return fatalDecoder.decode(bytes.subarray(start, end))
      ascii += String.fromCharCode(b)
    }
    return ascii
  }
  return fatalDecoder.decode(bytes.subarray(start, end))
}

/** Decodes a whole byte array as UTF-8; throws a `TypeError` on malformed UTF-8. */
export const decodeUtf8 = (bytes: Uint8Array): string => fatalDecoder.decode(bytes)
