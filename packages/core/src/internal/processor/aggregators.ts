/**
 * The built-in aggregators: none (one user record per Kinesis record), newline, netstring, JSON array
 * and KPL.
 *
 * @internal
 */
import type { KinesisRecord } from "../../Kinesis.js"
import type { AggregateBuilder, Aggregator, Emit } from "../../Processor.js"
import * as Kpl from "./kpl.js"
import { MalformedRecord } from "./malformed.js"

const NEWLINE = 0x0a
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Builders that keep the serialized user records and join them in `build`. */
abstract class ListBuilder implements AggregateBuilder {
  protected items: Array<Uint8Array> = []
  dataLength = 0
  get count(): number {
    return this.items.length
  }
  abstract growth(item: Uint8Array): number
  tryAdd(
    item: Uint8Array,
    _partitionKey: string,
    _explicitHashKey: string | undefined,
    maxDataLength: number
  ): boolean {
    const growth = this.growth(item)
    if (this.items.length > 0 && this.dataLength + growth > maxDataLength) return false
    this.dataLength += growth
    this.items.push(item)
    return true
  }
  abstract write(target: Uint8Array): void
  build(): Uint8Array {
    const out = Buffer.allocUnsafe(this.dataLength)
    this.write(out)
    this.items = []
    this.dataLength = 0
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// none
// ---------------------------------------------------------------------------------------------

class SingleBuilder implements AggregateBuilder {
  private item: Uint8Array | undefined = undefined
  get count(): number {
    return this.item === undefined ? 0 : 1
  }
  get dataLength(): number {
    return this.item === undefined ? 0 : this.item.length
  }
  tryAdd(item: Uint8Array): boolean {
    if (this.item !== undefined) return false
    this.item = item
    return true
  }
  build(): Uint8Array {
    const item = this.item ?? new Uint8Array(0)
    this.item = undefined
    return item
  }
}

export const single: Aggregator = {
  name: "single",
  carriesPartitionKeys: false,
  maxRecords: 1,
  defaultMaxAggregateSize: undefined,
  validate: undefined,
  dataLengthOf: (itemLength) => itemLength,
  builder: () => new SingleBuilder(),
  unpack: (record, emit) => emit(record.data, undefined, record.partitionKey, undefined)
}

// ---------------------------------------------------------------------------------------------
// newline
// ---------------------------------------------------------------------------------------------

class NewlineBuilder extends ListBuilder {
  growth(item: Uint8Array): number {
    return item.length + 1
  }
  write(target: Uint8Array): void {
    let p = 0
    for (const item of this.items) {
      target.set(item, p)
      p += item.length
      target[p++] = NEWLINE
    }
  }
}

export const newline: Aggregator = {
  name: "newline",
  carriesPartitionKeys: false,
  maxRecords: Number.MAX_SAFE_INTEGER,
  defaultMaxAggregateSize: undefined,
  validate: (item) =>
    item.indexOf(NEWLINE) < 0 ? undefined : "the item contains a newline byte (0x0A), the newline framing's separator",
  dataLengthOf: (itemLength) => itemLength + 1,
  builder: () => new NewlineBuilder(),
  unpack: (record: KinesisRecord, emit: Emit) => {
    const data = record.data
    const length = data.length
    let start = 0
    let index = 0
    while (start < length) {
      let end = data.indexOf(NEWLINE, start)
      if (end < 0) end = length
      emit(data.subarray(start, end), index++, record.partitionKey, undefined)
      start = end + 1
    }
  }
}

// ---------------------------------------------------------------------------------------------
// netstring
// ---------------------------------------------------------------------------------------------

const digits = (n: number): number => {
  let d = 1
  while (n >= 10) {
    n = Math.floor(n / 10)
    d++
  }
  return d
}

class NetstringBuilder extends ListBuilder {
  growth(item: Uint8Array): number {
    return digits(item.length) + item.length + 2
  }
  write(target: Uint8Array): void {
    let p = 0
    for (const item of this.items) {
      const length = item.length
      const d = digits(length)
      let n = length
      for (let i = d - 1; i >= 0; i--) {
        target[p + i] = 0x30 + (n % 10)
        n = Math.floor(n / 10)
      }
      p += d
      target[p++] = COLON
      target.set(item, p)
      p += length
      target[p++] = COMMA
    }
  }
}

/** At most 10 digits: far above any record size. */
const MAX_DIGITS = 10

export const netstring: Aggregator = {
  name: "netstring",
  carriesPartitionKeys: false,
  maxRecords: Number.MAX_SAFE_INTEGER,
  defaultMaxAggregateSize: undefined,
  validate: undefined,
  dataLengthOf: (itemLength) => digits(itemLength) + itemLength + 2,
  builder: () => new NetstringBuilder(),
  unpack: (record: KinesisRecord, emit: Emit) => {
    const data = record.data
    const length = data.length
    let p = 0
    let index = 0
    while (p < length) {
      const start = p
      let n = 0
      while (p < length && data[p] >= 0x30 && data[p] <= 0x39 && p - start < MAX_DIGITS) {
        n = n * 10 + (data[p] - 0x30)
        p++
      }
      if (p === start || p >= length || data[p] !== COLON) {
        throw new MalformedRecord(`malformed netstring length at byte ${start}`, index)
      }
      p++
      const end = p + n
      if (end >= length || data[end] !== COMMA) {
        throw new MalformedRecord(`netstring of ${n} bytes at byte ${start} is not terminated by ","`, index)
      }
      emit(data.subarray(p, end), index++, record.partitionKey, undefined)
      p = end + 1
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON array
// ---------------------------------------------------------------------------------------------

class JsonArrayBuilder extends ListBuilder {
  growth(item: Uint8Array): number {
    // "[" item "]" for the first, "," item for the next ones
    return this.items.length === 0 ? item.length + 2 : item.length + 1
  }
  write(target: Uint8Array): void {
    let p = 0
    target[p++] = OPEN_BRACKET
    for (let i = 0; i < this.items.length; i++) {
      if (i > 0) target[p++] = COMMA
      const item = this.items[i]
      target.set(item, p)
      p += item.length
    }
    target[p] = CLOSE_BRACKET
  }
}

const isWhitespace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09

const skipWhitespace = (data: Uint8Array, p: number): number => {
  while (p < data.length && isWhitespace(data[p])) p++
  return p
}

export const jsonArray: Aggregator = {
  name: "jsonArray",
  carriesPartitionKeys: false,
  maxRecords: Number.MAX_SAFE_INTEGER,
  defaultMaxAggregateSize: undefined,
  validate: undefined,
  dataLengthOf: (itemLength) => itemLength + 2,
  builder: () => new JsonArrayBuilder(),
  unpack: (record: KinesisRecord, emit: Emit) => {
    const data = record.data
    const length = data.length
    let p = skipWhitespace(data, 0)
    if (p >= length || data[p] !== OPEN_BRACKET) throw new MalformedRecord("not a JSON array", 0)
    p = skipWhitespace(data, p + 1)
    let index = 0
    if (p < length && data[p] === CLOSE_BRACKET) {
      p++
    } else {
      // split the array's top-level elements: track nesting and strings, byte by byte (the structural
      // characters are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII)
      while (true) {
        const start = p
        let depth = 0
        while (p < length) {
          const b = data[p]
          if (b === QUOTE) {
            p++
            while (p < length) {
              const c = data[p++]
              if (c === BACKSLASH) p++
              else if (c === QUOTE) break
            }
            continue
          }
          if (b === OPEN_BRACKET || b === OPEN_BRACE) {
            depth++
          } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
            if (depth === 0) break
            depth--
          } else if (b === COMMA && depth === 0) {
            break
          }
          p++
        }
        if (p >= length) throw new MalformedRecord("unterminated JSON array", index)
        let end = p
        while (end > start && isWhitespace(data[end - 1])) end--
        if (end === start) throw new MalformedRecord(`empty element at byte ${start}`, index)
        emit(data.subarray(start, end), index++, record.partitionKey, undefined)
        if (data[p] === COMMA) {
          p = skipWhitespace(data, p + 1)
          continue
        }
        if (data[p] !== CLOSE_BRACKET) throw new MalformedRecord(`unexpected "}" at byte ${p}`, index)
        p++
        break
      }
    }
    if (skipWhitespace(data, p) !== length) throw new MalformedRecord(`trailing bytes after the JSON array`, index)
  }
}

// ---------------------------------------------------------------------------------------------
// KPL
// ---------------------------------------------------------------------------------------------

export const kpl: Aggregator = {
  name: "kpl",
  carriesPartitionKeys: true,
  maxRecords: Number.MAX_SAFE_INTEGER,
  defaultMaxAggregateSize: 51_200,
  validate: undefined,
  dataLengthOf: Kpl.singleRecordDataLength,
  builder: () => new Kpl.KplBuilder(),
  unpack: (record: KinesisRecord, emit: Emit) => {
    if (Kpl.isAggregate(record.data)) Kpl.readAggregate(record.data, emit)
    else emit(record.data, undefined, record.partitionKey, undefined)
  }
}
