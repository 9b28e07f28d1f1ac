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

/**
 * Request bodies of at least `minSize` bytes, reused once their request is done (`release`): a fresh
 * half-megabyte buffer per PutRecords is fresh memory the kernel maps and faults in page by page, which
 * measured ~5 % of the client's CPU per record. Keeps at most `maxFreeBytes` of free buffers; a buffer
 * is handed out once until released, and only buffers it made are taken back.
 */
export class BodyPool {
  private free: Array<Buffer> = []
  private freeBytes = 0
  /** The backing stores handed out and not yet released. */
  private readonly out = new WeakSet<ArrayBufferLike>()

  constructor(readonly minSize: number, readonly maxFreeBytes: number) {}

  /** A buffer of exactly `size` bytes (contents undefined). */
  acquire(size: number): Buffer {
    if (size < this.minSize) return Buffer.allocUnsafe(size)
    let whole: Buffer | undefined
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i]!.length >= size) {
        whole = this.free[i]!
        this.free.splice(i, 1)
        this.freeBytes -= whole.length
        break
      }
    }
    // (capacity: the size rounded up to a power of two, so bodies of similar sizes share buffers)
    whole ??= Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(size)))
    this.out.add(whole.buffer)
    return whole.subarray(0, size)
  }

  /** `body` (from `acquire`) is no longer read by anyone: its buffer may serve another request. */
  release(body: Uint8Array): void {
    const store = body.buffer
    if (!this.out.has(store)) return
    this.out.delete(store)
    if (this.freeBytes + store.byteLength > this.maxFreeBytes) return
    this.free.push(Buffer.from(store, 0, store.byteLength))
    this.freeBytes += store.byteLength
  }
}

/** A writer over one preallocated buffer (sized by the caller from `headSize` and the payloads). */
export class Writer {
  readonly buffer: Buffer
  offset = 0
  constructor(size: number, pool?: BodyPool) {
    this.buffer = pool === undefined ? Buffer.allocUnsafe(size) : pool.acquire(size)
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

const EMPTY = new Uint8Array(0)
const EMPTY_VIEW = new DataView(EMPTY.buffer)
const EMPTY_BUFFER = Buffer.alloc(0)

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
  const out = latin1Of(b).toString("latin1", start, end)
  cache[slot] = out
  return out
}

/** `b` as a Buffer over the same bytes (no copy), for its latin1 decoding. */
const latin1Of = (b: Uint8Array): Buffer => Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)

/**
 * The map keys of the Kinesis data plane's responses, by length: a key is recognised by comparing its
 * bytes (one pass, no hashing, nothing allocated) before the general path for text.
 */
const KNOWN_KEYS: ReadonlyArray<ReadonlyArray<string>> = (() => {
  const keys = [
    "Records",
    "NextShardIterator",
    "MillisBehindLatest",
    "ChildShards",
    "SequenceNumber",
    "ApproximateArrivalTimestamp",
    "Data",
    "PartitionKey",
    "EncryptionType",
    "ShardId",
    "ParentShards",
    "HashKeyRange",
    "StartingHashKey",
    "EndingHashKey",
    "FailedRecordCount",
    "ErrorCode",
    "ErrorMessage",
    "__type",
    "message"
  ]
  const byLength: Array<Array<string>> = []
  for (const key of keys) (byLength[key.length] ??= []).push(key)
  return byLength
})()

/**
 * A reader over a body that arrived as a list of chunks (the socket's reads), decoded in place: nothing
 * joins the chunks into one buffer (for a 10 MB GetRecords response that copy, onto freshly mapped
 * pages, cost more CPU than decoding it). Every read is preceded by `need(n)`; when the next `n` bytes
 * run past the current chunk, they alone are copied into a segment of their own (a record whose bytes
 * straddle two socket reads: a few per response), and reading goes on in the next chunk after them.
 */
export class Reader {
  /** The segment being read: one chunk, or the bytes joined across a chunk boundary. */
  bytes: Uint8Array = EMPTY
  offset = 0
  view: DataView = EMPTY_VIEW
  /** The same bytes as a Buffer (no copy), for its latin1 decoding. */
  latin1: Buffer = EMPTY_BUFFER
  /** The next chunk to read after the segment (its unread part: a chunk is cut when a join took its head). */
  next = 0
  /** Bytes of the body before the segment (for positions in error messages). */
  before = 0
  readonly chunks: Array<Uint8Array>
  constructor(chunks: ReadonlyArray<Uint8Array>) {
    this.chunks = chunks.slice()
  }

  /** The reader's position in the whole body. */
  position(): number {
    return this.before + this.offset
  }

  /** Bytes left to read after the position. */
  remaining(): number {
    return this.bytes.length - this.offset + this.remainingAfter()
  }

  enter(segment: Uint8Array): void {
    this.before += this.bytes.length
    this.bytes = segment
    this.offset = 0
    this.view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength)
    this.latin1 = Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength)
  }

  need(n: number): void {
    if (this.offset + n > this.bytes.length) this.refill(n)
  }

  /** Makes the next `n` bytes one segment: the next chunk when the segment is used up and it holds them, else a join. */
  refill(n: number): void {
    const chunks = this.chunks
    let have = this.bytes.length - this.offset
    if (have === 0) {
      while (this.next < chunks.length && chunks[this.next]!.length === 0) this.next++
      if (this.next < chunks.length && chunks[this.next]!.length >= n) {
        this.enter(chunks[this.next++]!)
        return
      }
    }
    if (have + this.remainingAfter() < n) throw new CborError(`CBOR: truncated at byte ${this.position()}`)
    const joined = new Uint8Array(n)
    joined.set(this.bytes.subarray(this.offset), 0)
    const at = this.position()
    while (have < n) {
      const chunk = chunks[this.next]!
      const take = Math.min(chunk.length, n - have)
      joined.set(chunk.subarray(0, take), have)
      have += take
      if (take === chunk.length) this.next++
      else chunks[this.next] = chunk.subarray(take)
    }
    this.enter(joined)
    // the joined bytes stand at `at` in the body (`enter` counted the old segment whole)
    this.before = at
  }

  remainingAfter(): number {
    let n = 0
    for (let i = this.next; i < this.chunks.length; i++) n += this.chunks[i]!.length
    return n
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
        throw new CborError(`CBOR: reserved additional information ${info} at byte ${this.position() - 1}`)
    }
  }

  /** The argument of a head that must have a definite one (integers, tags, string chunks). */
  definite(info: number): number {
    if (info === 31) {
      throw new CborError(`CBOR: an indefinite length where none is allowed, at byte ${this.position() - 1}`)
    }
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

  /** A map key: a known key of the Kinesis API (compared byte by byte), else any item (`text` for text). */
  key(): unknown {
    this.need(1)
    const initial = this.bytes[this.offset]!
    // a text string of definite length below 24 bytes, or of a one-byte length ("ApproximateArrivalTimestamp")
    const known = initial >= 0x60 && initial < 0x78
      ? this.knownKey(this.offset + 1, initial - 0x60)
      : initial === 0x78 && this.offset + 2 <= this.bytes.length
      ? this.knownKey(this.offset + 2, this.bytes[this.offset + 1]!)
      : undefined
    return known ?? this.item()
  }

  /** The known key whose `length` bytes start at `start` of this segment (the reader then after it), if any. */
  knownKey(start: number, length: number): string | undefined {
    const candidates = KNOWN_KEYS[length]
    if (candidates === undefined || start + length > this.bytes.length) return undefined
    const b = this.bytes
    for (let c = 0; c < candidates.length; c++) {
      const key = candidates[c]!
      let i = 0
      while (i < length && b[start + i] === key.charCodeAt(i)) i++
      if (i === length) {
        this.offset = start + length
        return key
      }
    }
    return undefined
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

  /** The next item's initial byte, not consumed. */
  peek(): number {
    this.need(1)
    return this.bytes[this.offset]!
  }

  /** The head of an array or a map (`major` 4 or 5): its length, or -1 for an indefinite one. */
  container(major: number): number {
    this.need(1)
    const initial = this.bytes[this.offset++]!
    if (initial >> 5 !== major) throw new CborError(`CBOR: expected major type ${major} at byte ${this.position() - 1}`)
    return this.argument(initial & 0x1f)
  }

  /** Whether the next item of an indefinite-length container is its break code (consumed if so). */
  atBreak(): boolean {
    this.need(1)
    if (this.bytes[this.offset] !== 0xff) return false
    this.offset++
    return true
  }

  /** Throws unless the whole body was read. */
  end(): void {
    const left = this.remaining()
    if (left !== 0) throw new CborError(`CBOR: ${left} bytes after the item`)
  }

  /** A key of an indefinite-length map, or its break code. */
  keyOrBreak(): unknown {
    this.need(1)
    if (this.bytes[this.offset] === 0xff) {
      this.offset++
      return BREAK
    }
    return this.key()
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
          for (let i = 0; i < length; i++) Reader.set(out, this.key(), this.item())
        } else {
          for (let key = this.keyOrBreak(); key !== BREAK; key = this.keyOrBreak()) Reader.set(out, key, this.item())
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
 * Decodes one CBOR item from `body`: one buffer, or the chunks it arrived in (read in place, see `Reader`).
 * Byte strings are views into those bytes (keep them unchanged for as long as they are used); text
 * strings must be valid UTF-8.
 */
export const decode = (body: Uint8Array | ReadonlyArray<Uint8Array>): unknown => {
  const reader = new Reader(body instanceof Uint8Array ? [body] : body)
  if (reader.remaining() === 0) return undefined
  const out = reader.item()
  reader.end()
  return out
}
