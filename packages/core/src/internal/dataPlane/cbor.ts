/**
 * CBOR (RFC 8949) for the Kinesis data plane: an encoder for the three request shapes we send
 * (PutRecords, PutRecord, GetRecords) that writes each record's bytes straight into one exactly-sized
 * body, and a decoder for whatever the service answers, whose byte strings are views into the response
 * body (no copy per record).
 *
 * Only what Kinesis uses is written: maps with text keys, text strings, byte strings, unsigned
 * integers. The decoder reads every major type, definite and indefinite lengths, half / single / double
 * floats, and tags (their content; see `item`).
 *
 * @internal
 */

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

const MAJOR_UNSIGNED = 0
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5

/** Bytes of the head (major type + argument) of an item whose argument is `n`. */
export const headSize = (n: number): number => n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9

/** A writer over one preallocated buffer (sized by the caller from `headSize` and the payloads). */
export class Writer {
  readonly buffer: Buffer
  offset = 0
  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size)
  }

  head(major: number, n: number): void {
    const b = this.buffer
    const m = major << 5
    if (n < 24) {
      b[this.offset++] = m | n
    } else if (n < 0x100) {
      b[this.offset++] = m | 24
      b[this.offset++] = n
    } else if (n < 0x10000) {
      b[this.offset++] = m | 25
      b.writeUInt16BE(n, this.offset)
      this.offset += 2
    } else if (n < 0x100000000) {
      b[this.offset++] = m | 26
      b.writeUInt32BE(n, this.offset)
      this.offset += 4
    } else {
      b[this.offset++] = m | 27
      b.writeBigUInt64BE(BigInt(n), this.offset)
      this.offset += 8
    }
  }

  map(entries: number): void {
    this.head(MAJOR_MAP, entries)
  }

  array(items: number): void {
    this.head(MAJOR_ARRAY, items)
  }

  unsigned(n: number): void {
    this.head(MAJOR_UNSIGNED, n)
  }

  /**
   * A text string of `byteLength` UTF-8 bytes (the caller measured it with `utf8Length`). ASCII — partition
   * keys, hash keys, stream names as a rule — is copied by a loop: cheaper than a call into Buffer.write
   * for strings this short.
   */
  text(value: string, byteLength: number): void {
    this.head(MAJOR_TEXT, byteLength)
    if (byteLength === value.length && byteLength <= 64) {
      const b = this.buffer
      let o = this.offset
      for (let i = 0; i < byteLength; i++) b[o++] = value.charCodeAt(i)
      this.offset = o
    } else {
      this.offset += this.buffer.write(value, this.offset, byteLength, "utf8")
    }
  }

  /** A key: ASCII text (every key of the Kinesis API is). */
  key(value: string): void {
    this.text(value, value.length)
  }

  bytes(value: Uint8Array): void {
    this.head(MAJOR_BYTES, value.length)
    this.buffer.set(value, this.offset)
    this.offset += value.length
  }
}

/** UTF-8 bytes of `value`: its length for ASCII (checked by a loop, no call into Buffer for short strings). */
export const utf8Length = (value: string): number => {
  if (value.length > 64) return Buffer.byteLength(value, "utf8")
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return Buffer.byteLength(value, "utf8")
  return value.length
}

/** Bytes of a text item holding `byteLength` bytes. */
export const textSize = (byteLength: number): number => headSize(byteLength) + byteLength

/** Bytes of a key item (ASCII). */
export const keySize = (key: string): number => headSize(key.length) + key.length

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

/** The body is not well-formed CBOR. */
export class CborError extends Error {
  override readonly name = "CborError"
}

const textDecoder = new TextDecoder("utf-8", { fatal: true })

/** CBOR's "break" stop code, ending an indefinite-length item. */
const BREAK = Symbol("break")

/** Strings up to this many bytes go through the cache: map keys, shard ids, most partition keys. */
const SHORT = 32
const CACHE_SLOTS = 1024
const cache = new Array<string | undefined>(CACHE_SLOTS)

/**
 * A short ASCII string, from a cache indexed by a hash of its bytes: a response repeats its keys (and shard
 * ids) on every record, so most lookups find the string already made and allocate nothing.
 */
const shortAscii = (b: Uint8Array, start: number, end: number): string => {
  let h = end - start
  for (let i = start; i < end; i++) h = (h * 31 + b[i]!) | 0
  const slot = (h >>> 0) & (CACHE_SLOTS - 1)
  const cached = cache[slot]
  if (cached !== undefined && cached.length === end - start) {
    let same = true
    for (let i = start, j = 0; i < end; i++, j++) {
      if (cached.charCodeAt(j) !== b[i]) {
        same = false
        break
      }
    }
    if (same) return cached
  }
  let out = ""
  for (let i = start; i < end; i++) out += String.fromCharCode(b[i]!)
  cache[slot] = out
  return out
}

class Reader {
  offset = 0
  readonly view: DataView
  /** The same bytes as a Buffer (no copy), for its latin1 decoding. */
  readonly latin1: Buffer
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new CborError(`CBOR: truncated at byte ${this.offset}`)
  }

  /** The argument of a head with additional information `info` (-1: indefinite length). */
  argument(info: number): number {
    if (info < 24) return info
    switch (info) {
      case 24:
        this.need(1)
        return this.bytes[this.offset++]!
      case 25: {
        this.need(2)
        const n = this.view.getUint16(this.offset)
        this.offset += 2
        return n
      }
      case 26: {
        this.need(4)
        const n = this.view.getUint32(this.offset)
        this.offset += 4
        return n
      }
      case 27: {
        this.need(8)
        // Kinesis' integers (counts, milliseconds, epoch times) fit a double exactly; two 32-bit halves
        // make it without a BigInt (an allocation per arrival timestamp)
        const n = this.view.getUint32(this.offset) * 0x100000000 + this.view.getUint32(this.offset + 4)
        this.offset += 8
        return n
      }
      case 31:
        return -1
      default:
        throw new CborError(`CBOR: reserved additional information ${info} at byte ${this.offset - 1}`)
    }
  }

  /** The argument of a head that must have a definite one (integers, tags, string chunks). */
  definite(info: number): number {
    if (info === 31) throw new CborError(`CBOR: an indefinite length where none is allowed, at byte ${this.offset - 1}`)
    return this.argument(info)
  }

  /** The bytes of a byte or text string (indefinite strings are concatenated chunks). */
  string(major: number, info: number): Uint8Array {
    const length = this.argument(info)
    if (length >= 0) {
      this.need(length)
      const out = this.bytes.subarray(this.offset, this.offset + length)
      this.offset += length
      return out
    }
    const chunks: Array<Uint8Array> = []
    for (;;) {
      this.need(1)
      const initial = this.bytes[this.offset++]!
      if (initial === 0xff) break
      if (initial >> 5 !== major) throw new CborError(`CBOR: a chunk of another type inside an indefinite string`)
      const length = this.definite(initial & 0x1f)
      this.need(length)
      chunks.push(this.bytes.subarray(this.offset, this.offset + length))
      this.offset += length
    }
    return Buffer.concat(chunks)
  }

  /** A text string: ASCII read by a loop or as latin1 (exact for ASCII); anything else decoded strictly. */
  text(info: number): string {
    const length = this.argument(info)
    if (length < 0) return this.utf8(this.string(3, info))
    this.need(length)
    const b = this.bytes
    const start = this.offset
    const end = start + length
    let ascii = true
    for (let i = start; i < end; i++) {
      if (b[i]! > 0x7f) {
        ascii = false
        break
      }
    }
    this.offset = end
    if (!ascii) return this.utf8(b.subarray(start, end))
    return length <= SHORT ? shortAscii(b, start, end) : this.latin1.toString("latin1", start, end)
  }

  utf8(bytes: Uint8Array): string {
    try {
      return textDecoder.decode(bytes)
    } catch {
      throw new CborError(`CBOR: a text string that is not UTF-8`)
    }
  }

  /** One data item (a break code is an error here). */
  item(): unknown {
    const out = this.itemOrBreak()
    if (out === BREAK) throw new CborError(`CBOR: a break code outside an indefinite-length item`)
    return out
  }

  /** A map entry: an own property, even when the key is "__proto__" (which an assignment would not make). */
  static set(out: Record<string, unknown>, key: unknown, value: unknown): void {
    const name = typeof key === "string" ? key : String(key)
    if (name === "__proto__") {
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
    } else {
      out[name] = value
    }
  }

  itemOrBreak(): unknown {
    this.need(1)
    const initial = this.bytes[this.offset++]!
    const major = initial >> 5
    const info = initial & 0x1f
    switch (major) {
      case 0:
        return this.definite(info)
      case 1:
        return -1 - this.definite(info)
      case 2:
        return this.string(2, info)
      case 3:
        return this.text(info)
      case 4: {
        const length = this.argument(info)
        const out: Array<unknown> = []
        if (length >= 0) {
          for (let i = 0; i < length; i++) out.push(this.item())
        } else {
          for (let item = this.itemOrBreak(); item !== BREAK; item = this.itemOrBreak()) out.push(item)
        }
        return out
      }
      case 5: {
        const length = this.argument(info)
        const out: Record<string, unknown> = {}
        if (length >= 0) {
          for (let i = 0; i < length; i++) Reader.set(out, this.item(), this.item())
        } else {
          for (let key = this.itemOrBreak(); key !== BREAK; key = this.itemOrBreak()) Reader.set(out, key, this.item())
        }
        return out
      }
      case 6: {
        // The tag is dropped: the only one Kinesis sends is 1 (epoch time) around a timestamp, and AWS's
        // CBOR puts epoch *milliseconds* there, not RFC 8949's seconds (the AWS SDK for Java,
        // SdkCborGenerator.writeDateTime / DateCborUnmarshaller): the reader of the field interprets it.
        this.definite(info)
        return this.item()
      }
      default:
        return this.simple(info)
    }
  }

  simple(info: number): unknown {
    switch (info) {
      case 20:
        return false
      case 21:
        return true
      case 22:
        return null
      case 23:
        return undefined
      case 25: {
        this.need(2)
        const half = this.view.getUint16(this.offset)
        this.offset += 2
        return halfToNumber(half)
      }
      case 26: {
        this.need(4)
        const n = this.view.getFloat32(this.offset)
        this.offset += 4
        return n
      }
      case 27: {
        this.need(8)
        const n = this.view.getFloat64(this.offset)
        this.offset += 8
        return n
      }
      case 31:
        return BREAK
      default:
        if (info < 20) return info // unassigned simple values
        if (info === 24) {
          this.need(1)
          return this.bytes[this.offset++]
        }
        throw new CborError(`CBOR: reserved simple value ${info}`)
    }
  }
}

const halfToNumber = (half: number): number => {
  const exponent = (half >> 10) & 0x1f
  const mantissa = half & 0x3ff
  const sign = half & 0x8000 ? -1 : 1
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1024 + mantissa) * 2 ** (exponent - 25)
}

/**
 * Decodes one CBOR item from `bytes`. Byte strings are views into `bytes` (keep `bytes` unchanged for
 * as long as they are used); text strings must be valid UTF-8.
 */
export const decode = (bytes: Uint8Array): unknown => {
  if (bytes.length === 0) return undefined
  const reader = new Reader(bytes)
  const out = reader.item()
  if (reader.offset !== bytes.length) {
    throw new CborError(`CBOR: ${bytes.length - reader.offset} bytes after the item`)
  }
  return out
}
