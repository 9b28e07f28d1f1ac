/**
 * The KPL aggregated-record format, hand-written (no protobuf library: see BENCHMARKS.md, suite
 * "processor", for the measurements behind that choice):
 *
 *   F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf bytes)
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 *   message Tag { required string key = 1; optional string value = 2; }
 *
 * Fields are written in field-number order (tables, then records), as KPL and protobufjs write them;
 * the reader accepts any order and skips unknown fields and tags.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import { MalformedRecord } from "./malformed.js"
import { readUtf8, utf8Length, writeUtf8 } from "./utf8.js"

/** The 4 magic bytes that open every KPL aggregated record. */
export const MAGIC: ReadonlyArray<number> = [0xf3, 0x89, 0x9a, 0xc2]

/** Bytes an aggregate adds around its protobuf message: magic + MD5. */
export const OVERHEAD = 4 + 16

const md5: (data: Uint8Array) => Uint8Array = typeof Crypto.hash === "function"
  ? (data) => Crypto.hash("md5", data, "buffer")
  : (data) => Crypto.createHash("md5").update(data).digest()

/** Bytes of the varint encoding of a non-negative integer < 2^53. */
export const varintLength = (n: number): number => {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  let bytes = 4
  n = Math.floor(n / 0x10000000)
  while (n > 0) {
    bytes++
    n = Math.floor(n / 0x80)
  }
  return bytes
}

const writeVarint = (target: Uint8Array, offset: number, n: number): number => {
  while (n >= 0x80) {
    target[offset++] = (n & 0x7f) | 0x80
    n = n >= 0x80000000 ? Math.floor(n / 0x80) : n >>> 7
  }
  target[offset++] = n
  return offset
}

/** Size of a length-delimited field (1-byte tag) whose payload has `length` bytes. */
const fieldLength = (length: number): number => 1 + varintLength(length) + length

/** Size of a `Record` message (without its own field tag and length). */
const recordMessageLength = (pkIndex: number, ehkIndex: number, dataLength: number): number =>
  1 + varintLength(pkIndex) + (ehkIndex < 0 ? 0 : 1 + varintLength(ehkIndex)) + fieldLength(dataLength)

/**
 * Bytes of the data of an aggregate holding exactly one user record (magic, protobuf, MD5).
 */
export const singleRecordDataLength = (
  dataLength: number,
  partitionKeyBytes: number,
  explicitHashKeyBytes: number | undefined
): number =>
  OVERHEAD + fieldLength(partitionKeyBytes) +
  (explicitHashKeyBytes === undefined ? 0 : fieldLength(explicitHashKeyBytes)) +
  fieldLength(recordMessageLength(0, explicitHashKeyBytes === undefined ? -1 : 0, dataLength))

/**
 * An aggregate being built: key tables, user records, and the exact data size so far (so the caller
 * can stop before a size limit without encoding).
 */
export class KplBuilder {
  private pkIndex = new Map<string, number>()
  private pkTable: Array<string> = []
  private pkBytes: Array<number> = []
  private ehkIndex = new Map<string, number>()
  private ehkTable: Array<string> = []
  private ehkBytes: Array<number> = []
  private items: Array<Uint8Array> = []
  private itemPk: Array<number> = []
  private itemEhk: Array<number> = []
  /** Bytes of each `Record` message. */
  private itemMessage: Array<number> = []
  /** Bytes of the data (magic + protobuf + MD5) so far; 0 when empty. */
  dataLength = 0

  get count(): number {
    return this.items.length
  }

  /**
   * Adds a user record unless the data would then exceed `maxDataLength` (an empty builder takes any
   * record). One table look-up per key: this is the hot path of KPL aggregation.
   */
  tryAdd(item: Uint8Array, partitionKey: string, explicitHashKey: string | undefined, maxDataLength: number): boolean {
    let growth = this.items.length === 0 ? OVERHEAD : 0
    let pk = this.pkIndex.get(partitionKey)
    let newPkBytes = -1
    if (pk === undefined) {
      pk = this.pkTable.length
      newPkBytes = utf8Length(partitionKey)
      growth += fieldLength(newPkBytes)
    }
    let ehk = -1
    let newEhkBytes = -1
    if (explicitHashKey !== undefined) {
      const known = this.ehkIndex.get(explicitHashKey)
      if (known === undefined) {
        ehk = this.ehkTable.length
        newEhkBytes = utf8Length(explicitHashKey)
        growth += fieldLength(newEhkBytes)
      } else {
        ehk = known
      }
    }
    const message = recordMessageLength(pk, ehk, item.length)
    growth += fieldLength(message)
    if (this.items.length > 0 && this.dataLength + growth > maxDataLength) return false
    if (newPkBytes >= 0) {
      this.pkIndex.set(partitionKey, pk)
      this.pkTable.push(partitionKey)
      this.pkBytes.push(newPkBytes)
    }
    if (newEhkBytes >= 0) {
      this.ehkIndex.set(explicitHashKey!, ehk)
      this.ehkTable.push(explicitHashKey!)
      this.ehkBytes.push(newEhkBytes)
    }
    this.items.push(item)
    this.itemPk.push(pk)
    this.itemEhk.push(ehk)
    this.itemMessage.push(message)
    this.dataLength += growth
    return true
  }

  /** Encodes the aggregate (magic, protobuf, MD5) and empties the builder. */
  build(): Uint8Array {
    const length = this.dataLength
    const out = Buffer.allocUnsafe(length)
    out[0] = 0xf3
    out[1] = 0x89
    out[2] = 0x9a
    out[3] = 0xc2
    let p = 4
    const { ehkBytes, ehkTable, itemEhk, itemMessage, itemPk, items, pkBytes, pkTable } = this
    for (let i = 0; i < pkTable.length; i++) {
      out[p++] = 0x0a
      p = writeVarint(out, p, pkBytes[i])
      p += writeUtf8(pkTable[i], out, p)
    }
    for (let i = 0; i < ehkTable.length; i++) {
      out[p++] = 0x12
      p = writeVarint(out, p, ehkBytes[i])
      p += writeUtf8(ehkTable[i], out, p)
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      const ehk = itemEhk[i]
      out[p++] = 0x1a
      p = writeVarint(out, p, itemMessage[i])
      out[p++] = 0x08
      p = writeVarint(out, p, itemPk[i])
      if (ehk >= 0) {
        out[p++] = 0x10
        p = writeVarint(out, p, ehk)
      }
      out[p++] = 0x1a
      p = writeVarint(out, p, item.length)
      out.set(item, p)
      p += item.length
    }
    out.set(md5(out.subarray(4, p)), p)
    this.reset()
    return out
  }

  reset(): void {
    this.pkIndex = new Map()
    this.pkTable = []
    this.pkBytes = []
    this.ehkIndex = new Map()
    this.ehkTable = []
    this.ehkBytes = []
    this.items = []
    this.itemPk = []
    this.itemEhk = []
    this.itemMessage = []
    this.dataLength = 0
  }
}

/**
 * True when `data` is a KPL aggregate: it starts with the magic and ends with the MD5 of the bytes
 * between. Anything else is a plain record (as KCL treats it).
 */
export const isAggregate = (data: Uint8Array): boolean => {
  const length = data.length
  if (length < OVERHEAD || data[0] !== 0xf3 || data[1] !== 0x89 || data[2] !== 0x9a || data[3] !== 0xc2) {
    return false
  }
  const digest = md5(data.subarray(4, length - 16))
  const offset = length - 16
  for (let i = 0; i < 16; i++) {
    if (digest[i] !== data[offset + i]) return false
  }
  return true
}

/** Where the last `readVarint` stopped (module state: no allocation per read). */
let cursor = 0

/** Reads a varint at `start` (not past `limit`) and leaves `cursor` after it. */
const readVarint = (data: Uint8Array, start: number, limit: number): number => {
  let p = start
  let result = 0
  let multiplier = 1
  for (let i = 0; i < 10; i++) {
    if (p >= limit) throw new MalformedRecord("truncated varint")
    const b = data[p++]
    result += (b & 0x7f) * multiplier
    if (b < 0x80) {
      cursor = p
      return result
    }
    multiplier *= 0x80
  }
  throw new MalformedRecord("varint longer than 10 bytes")
}

/** Skips a field of the wire type whose key ended at `start`; returns the position after it. */
const skipField = (data: Uint8Array, wireType: number, start: number, limit: number): number => {
  let p: number
  switch (wireType) {
    case 0:
      readVarint(data, start, limit)
      return cursor
    case 1:
      p = start + 8
      break
    case 2:
      p = readVarint(data, start, limit) + cursor
      break
    case 5:
      p = start + 4
      break
    default:
      throw new MalformedRecord(`unsupported wire type ${wireType}`)
  }
  if (p > limit) throw new MalformedRecord("truncated field")
  return p
}

/**
 * Reads the user records of an aggregate (`isAggregate(data)` must hold), calling `emit` for each in
 * order with its data (a view into `data`, no copy), sub-sequence number, partition key and explicit
 * hash key. Throws `MalformedRecord` on a malformed message.
 */
export const readAggregate = (
  data: Uint8Array,
  emit: (
    item: Uint8Array,
    subSequenceNumber: number,
    partitionKey: string,
    explicitHashKey: string | undefined
  ) => void
): void => {
  const end = data.length - 16
  const pkTable: Array<string> = []
  const ehkTable: Array<string> = []
  // per record: partition key index, explicit hash key index (-1: none), data start, data end
  const records: Array<number> = []
  let p = 4
  while (p < end) {
    // field keys and lengths below 128 take one byte: read those inline
    let key = data[p++]
    if (key >= 0x80) {
      key = readVarint(data, p - 1, end)
      p = cursor
    }
    const field = Math.floor(key / 8)
    if ((key & 7) !== 2 || field < 1 || field > 3) {
      p = skipField(data, key & 7, p, end)
      continue
    }
    if (p >= end) throw new MalformedRecord("truncated field")
    let length = data[p++]
    if (length >= 0x80) {
      length = readVarint(data, p - 1, end)
      p = cursor
    }
    const fieldEnd = p + length
    if (fieldEnd > end) throw new MalformedRecord("truncated field")
    if (field === 3) {
      const sub = records.length >> 2
      let pk = -1
      let ehk = -1
      let start = -1
      let stop = -1
      while (p < fieldEnd) {
        let k = data[p++]
        if (k >= 0x80) {
          k = readVarint(data, p - 1, fieldEnd)
          p = cursor
        }
        if (k === 0x08 || k === 0x10) {
          if (p >= fieldEnd) throw new MalformedRecord("truncated varint", sub)
          let v = data[p++]
          if (v >= 0x80) {
            v = readVarint(data, p - 1, fieldEnd)
            p = cursor
          }
          if (k === 0x08) pk = v
          else ehk = v
        } else if (k === 0x1a) {
          if (p >= fieldEnd) throw new MalformedRecord("truncated record data", sub)
          let n = data[p++]
          if (n >= 0x80) {
            n = readVarint(data, p - 1, fieldEnd)
            p = cursor
          }
          start = p
          stop = p + n
          if (stop > fieldEnd) throw new MalformedRecord("truncated record data", sub)
          p = stop
        } else {
          p = skipField(data, k & 7, p, fieldEnd)
        }
      }
      if (pk < 0) throw new MalformedRecord("record without partition_key_index", sub)
      if (start < 0) throw new MalformedRecord("record without data", sub)
      records.push(pk, ehk, start, stop)
    } else if (field === 1) {
      pkTable.push(readUtf8(data, p, fieldEnd))
    } else {
      ehkTable.push(readUtf8(data, p, fieldEnd))
    }
    p = fieldEnd
  }
  if (p !== end) throw new MalformedRecord("truncated message")
  const pkCount = pkTable.length
  const ehkCount = ehkTable.length
  for (let i = 0, sub = 0; i < records.length; i += 4, sub++) {
    const pk = records[i]
    const ehk = records[i + 1]
    if (pk >= pkCount) throw new MalformedRecord(`partition_key_index ${pk} outside a table of ${pkCount}`, sub)
    if (ehk >= ehkCount) throw new MalformedRecord(`explicit_hash_key_index ${ehk} outside a table of ${ehkCount}`, sub)
    emit(data.subarray(records[i + 2], records[i + 3]), sub, pkTable[pk], ehk < 0 ? undefined : ehkTable[ehk])
  }
}
