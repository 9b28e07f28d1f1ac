/**
 * The bodies of the data plane's requests and responses — PutRecords, PutRecord and GetRecords — in the two wire
 * formats Kinesis speaks: CBOR (`application/x-amz-cbor-1.1`, record data as raw byte strings) and JSON
 * (`application/x-amz-json-1.1`, record data in base64), written and read directly, without the SDK's
 * generic serializers.
 *
 * Readers accept every shape seen from the service and the local servers:
 * - record data as a byte string (AWS), a base64 text string (JSON; kinesis-local's CBOR), or
 *   kinesalite's `{ type: "Buffer", data: [...] }` (it stores data written over CBOR as JSON);
 * - arrival timestamps as integer epoch milliseconds, tagged or not (AWS, kinesis-local) or as float
 *   epoch seconds (kinesalite; JSON).
 *
 * @internal
 */
import type * as Kinesis from "../../Kinesis.js"
import type * as StreamAddress from "../../StreamAddress.js"
import { badRecords, isValidRecord } from "../options.js"
import { BodyPool, decode, headSize, keySize, Reader, textSize, utf8Length, Writer } from "./cbor.js"

/** The wire format of a request. */
export type Format = "cbor" | "json"

/** The request body and its content type. */
export interface Body {
  readonly contentType: string
  readonly body: Uint8Array
}

const CBOR = "application/x-amz-cbor-1.1"
const JSON_TYPE = "application/x-amz-json-1.1"

/** The content type of a format. */
export const contentType = (format: Format): string => format === "cbor" ? CBOR : JSON_TYPE

const streamField = (stream: StreamAddress.StreamAddress): readonly [key: string, value: string] =>
  stream._tag === "StreamArn" ? ["StreamARN", stream.arn] : ["StreamName", stream.name]

// ---------------------------------------------------------------------------------------------
// requests
// ---------------------------------------------------------------------------------------------

const K_RECORDS = "Records"
const K_DATA = "Data"
const K_PARTITION_KEY = "PartitionKey"
const K_EXPLICIT_HASH_KEY = "ExplicitHashKey"

/**
 * The pool of CBOR PutRecords bodies (64 KiB and more; at most 16 MiB kept free): a body goes back with
 * `releaseBody` once its request is done (the response read, or the request failed or aborted).
 */
const bodies = new BodyPool(64 * 1024, 16 * 1024 * 1024)

/** The request that sent `body` is done: nothing reads it any more. */
export const releaseBody = (body: Body): void => bodies.release(body.body)

/**
 * PutRecords in CBOR: one buffer of exactly the body's size, each record's data copied into it once.
 * A record that is not what the types promise throws its `InvalidArgument` (the call fails with it).
 */
const putRecordsCbor = (request: Kinesis.PutRecordsRequest): Uint8Array => {
  const [streamKey, streamValue] = streamField(request.stream)
  const records = request.records
  const keyLengths = new Array<number>(records.length)
  const hashLengths = new Array<number>(records.length)
  let size = 1 + keySize(K_RECORDS) + headSize(records.length) + keySize(streamKey) +
    textSize(Buffer.byteLength(streamValue))
  const recordKeys = keySize(K_DATA) + keySize(K_PARTITION_KEY)
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    // a JavaScript caller's record is checked here, where it is sized anyway (no pass of its own)
    if (!isValidRecord(record)) throw badRecords("putRecords", request.stream, records)
    const keyLength = utf8Length(record.partitionKey)
    keyLengths[i] = keyLength
    size += 1 + recordKeys + headSize(record.data.length) + record.data.length + textSize(keyLength)
    if (record.explicitHashKey !== undefined) {
      const hashLength = utf8Length(record.explicitHashKey)
      hashLengths[i] = hashLength
      size += keySize(K_EXPLICIT_HASH_KEY) + textSize(hashLength)
    }
  }
  const w = new Writer(size, bodies)
  w.map(2)
  w.key(K_RECORDS)
  w.array(records.length)
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    const explicit = record.explicitHashKey
    w.map(explicit === undefined ? 2 : 3)
    w.key(K_DATA)
    w.bytes(record.data)
    w.key(K_PARTITION_KEY)
    w.text(record.partitionKey, keyLengths[i]!)
    if (explicit !== undefined) {
      w.key(K_EXPLICIT_HASH_KEY)
      w.text(explicit, hashLengths[i]!)
    }
  }
  w.key(streamKey)
  w.text(streamValue, Buffer.byteLength(streamValue))
  return w.buffer
}

/** JSON string literal of `value` (JSON.stringify escapes exactly as JSON needs). */
const quote = (value: string): string => JSON.stringify(value)

/** PutRecords in JSON: the body built as one string, data base64-encoded by Node (native code). */
const putRecordsJson = (request: Kinesis.PutRecordsRequest): Uint8Array => {
  const [streamKey, streamValue] = streamField(request.stream)
  const parts = new Array<string>(request.records.length)
  for (let i = 0; i < request.records.length; i++) {
    const record = request.records[i]!
    if (!isValidRecord(record)) throw badRecords("putRecords", request.stream, request.records)
    const data = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString("base64")
    parts[i] = record.explicitHashKey === undefined
      ? `{"Data":"${data}","PartitionKey":${quote(record.partitionKey)}}`
      : `{"Data":"${data}","PartitionKey":${quote(record.partitionKey)},"ExplicitHashKey":${
        quote(record.explicitHashKey)
      }}`
  }
  return Buffer.from(`{"Records":[${parts.join(",")}],"${streamKey}":${quote(streamValue)}}`, "utf8")
}

/** The body of a PutRecords request. */
export const putRecords = (format: Format, request: Kinesis.PutRecordsRequest): Body => ({
  contentType: contentType(format),
  body: format === "cbor" ? putRecordsCbor(request) : putRecordsJson(request)
})

/** The text fields of a PutRecord request after its data, in the order written. */
const putRecordFields = (request: Kinesis.PutRecordRequest): Array<readonly [key: string, value: string]> => {
  const fields: Array<readonly [string, string]> = [["PartitionKey", request.partitionKey]]
  if (request.explicitHashKey !== undefined) fields.push(["ExplicitHashKey", request.explicitHashKey])
  if (request.sequenceNumberForOrdering !== undefined) {
    fields.push(["SequenceNumberForOrdering", request.sequenceNumberForOrdering])
  }
  fields.push(streamField(request.stream))
  return fields
}

/** The body of a PutRecord request: the data copied once (CBOR) or base64-encoded by Node (JSON). */
export const putRecord = (format: Format, request: Kinesis.PutRecordRequest): Body => {
  const fields = putRecordFields(request)
  const data = request.data
  if (format === "json") {
    const base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")
    const rest = fields.map(([key, value]) => `,"${key}":${quote(value)}`).join("")
    return { contentType: JSON_TYPE, body: Buffer.from(`{"Data":"${base64}"${rest}}`, "utf8") }
  }
  const lengths = fields.map(([, value]) => utf8Length(value))
  let size = 1 + keySize(K_DATA) + headSize(data.length) + data.length
  for (let i = 0; i < fields.length; i++) size += keySize(fields[i]![0]) + textSize(lengths[i]!)
  const w = new Writer(size)
  w.map(1 + fields.length)
  w.key(K_DATA)
  w.bytes(data)
  for (let i = 0; i < fields.length; i++) {
    w.key(fields[i]![0])
    w.text(fields[i]![1], lengths[i]!)
  }
  return { contentType: CBOR, body: w.buffer }
}

/** The body of a GetRecords request. */
export const getRecords = (format: Format, request: Kinesis.GetRecordsRequest): Body => {
  const arn = request.stream?._tag === "StreamArn" ? request.stream.arn : undefined
  if (format === "json") {
    const fields = [`"ShardIterator":${quote(request.shardIterator)}`]
    if (request.limit !== undefined) fields.push(`"Limit":${request.limit}`)
    if (arn !== undefined) fields.push(`"StreamARN":${quote(arn)}`)
    return { contentType: JSON_TYPE, body: Buffer.from(`{${fields.join(",")}}`, "utf8") }
  }
  const iteratorLength = Buffer.byteLength(request.shardIterator)
  const arnLength = arn === undefined ? 0 : Buffer.byteLength(arn)
  const entries = 1 + (request.limit === undefined ? 0 : 1) + (arn === undefined ? 0 : 1)
  const size = 1 + keySize("ShardIterator") + textSize(iteratorLength) +
    (request.limit === undefined ? 0 : keySize("Limit") + headSize(request.limit)) +
    (arn === undefined ? 0 : keySize("StreamARN") + textSize(arnLength))
  const w = new Writer(size)
  w.map(entries)
  w.key("ShardIterator")
  w.text(request.shardIterator, iteratorLength)
  if (request.limit !== undefined) {
    w.key("Limit")
    w.unsigned(request.limit)
  }
  if (arn !== undefined) {
    w.key("StreamARN")
    w.text(arn, arnLength)
  }
  return { contentType: CBOR, body: w.buffer }
}

// ---------------------------------------------------------------------------------------------
// responses
// ---------------------------------------------------------------------------------------------

/** The response body does not have the shape of the operation's output. */
export class MalformedResponse extends Error {
  override readonly name = "SerializationException"
}

type Fields = Record<string, unknown>

/** A response body: the chunks it arrived in (or one buffer). */
export type ResponseBody = ReadonlyArray<Uint8Array>

/** The body's bytes as one buffer (a copy only when it arrived in several chunks). */
export const join = (body: ResponseBody): Buffer => {
  if (body.length === 1) return Buffer.from(body[0]!.buffer, body[0]!.byteOffset, body[0]!.byteLength)
  return Buffer.concat(body)
}

const byteLength = (body: ResponseBody): number => {
  let n = 0
  for (const chunk of body) n += chunk.length
  return n
}

/** Parses a response body of `format` (its chunks, or one buffer): CBOR decoded over the chunks in place (`cbor.decode`). */
export const parse = (format: Format, body: ResponseBody | Uint8Array): unknown => {
  const chunks = body instanceof Uint8Array ? [body] : body
  return byteLength(chunks) === 0
    ? {}
    : format === "cbor"
    ? decode(chunks)
    : JSON.parse(join(chunks).toString("utf8"))
}

const isFields = (u: unknown): u is Fields => typeof u === "object" && u !== null && !Array.isArray(u)

const string = (u: unknown): string | undefined => typeof u === "string" ? u : undefined

const number = (u: unknown): number | undefined => typeof u === "number" ? u : undefined

const EMPTY = new Uint8Array(0)

/** Record data in any of the shapes the module doc lists. */
const data = (u: unknown): Uint8Array => {
  if (u instanceof Uint8Array) return u
  if (typeof u === "string") return Buffer.from(u, "base64")
  if (isFields(u) && u.type === "Buffer" && Array.isArray(u.data)) return Uint8Array.from(u.data as Array<number>)
  if (u === undefined || u === null) return EMPTY
  throw new MalformedResponse(`record Data is neither bytes nor base64 text`)
}

/** An arrival timestamp: integer epoch milliseconds, or epoch seconds (with a fraction, or below 1e11). */
const timestamp = (u: unknown): Date => {
  if (typeof u !== "number") return u instanceof Date ? u : new Date(0)
  return Number.isInteger(u) && u >= 1e11 ? new Date(u) : new Date(u * 1000)
}

/** A PutRecords response. */
export const putRecordsResponse = (out: unknown): Kinesis.PutRecordsResponse => {
  if (!isFields(out) || !Array.isArray(out.Records)) throw new MalformedResponse("PutRecords response has no Records")
  const records = out.Records as Array<unknown>
  const entries = new Array<Kinesis.PutRecordsResultEntry>(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    if (!isFields(r)) throw new MalformedResponse("PutRecords response: a record result is not a map")
    const errorCode = string(r.ErrorCode)
    entries[i] = errorCode !== undefined
      ? { _tag: "Failure", errorCode, errorMessage: string(r.ErrorMessage) ?? "" }
      : { _tag: "Success", shardId: string(r.ShardId) ?? "", sequenceNumber: string(r.SequenceNumber) ?? "" }
  }
  const encryptionType = string(out.EncryptionType) as Kinesis.EncryptionType | undefined
  return {
    failedRecordCount: number(out.FailedRecordCount) ?? 0,
    records: entries,
    ...(encryptionType === undefined ? {} : { encryptionType })
  }
}

/**
 * Reads a response map in place (the reader at its head): its `Records` array, each element read by
 * `readOne`, and its other fields as they are. `records` is `undefined` when the map has no array there.
 */
const readResponse = <T>(
  reader: Reader,
  readOne: (reader: Reader) => T
): { readonly records: Array<T> | undefined; readonly rest: Fields } => {
  const entries = reader.container(5)
  let records: Array<T> | undefined
  const rest: Fields = {}
  for (let i = 0; entries < 0 ? !reader.atBreak() : i < entries; i++) {
    const key = reader.key()
    if (key === "Records" && reader.peek() >> 5 === 4) {
      const length = reader.container(4)
      if (length >= 0) {
        records = new Array<T>(length)
        for (let j = 0; j < length; j++) records[j] = readOne(reader)
      } else {
        records = []
        while (!reader.atBreak()) records.push(readOne(reader))
      }
    } else {
      const value = reader.item()
      if (typeof key === "string" && key !== "__proto__") rest[key] = value
    }
  }
  reader.end()
  return { records, rest }
}

/**
 * One result of a CBOR PutRecords response, read straight into its entry. (Field by field with a
 * `switch`, as `kinesisRecordCbor`: a loop shared through a table of names measured ~10 % slower.)
 */
const putRecordsResultCbor = (reader: Reader): Kinesis.PutRecordsResultEntry => {
  if (reader.peek() >> 5 !== 5) throw new MalformedResponse("PutRecords response: a record result is not a map")
  const entries = reader.container(5)
  let sequenceNumber: unknown
  let shardId: unknown
  let errorCode: unknown
  let errorMessage: unknown
  for (let i = 0; entries < 0 ? !reader.atBreak() : i < entries; i++) {
    const key = reader.key()
    const value = reader.item()
    switch (key) {
      case "SequenceNumber":
        sequenceNumber = value
        break
      case "ShardId":
        shardId = value
        break
      case "ErrorCode":
        errorCode = value
        break
      case "ErrorMessage":
        errorMessage = value
        break
    }
  }
  const code = string(errorCode)
  return code !== undefined
    ? { _tag: "Failure", errorCode: code, errorMessage: string(errorMessage) ?? "" }
    : { _tag: "Success", shardId: string(shardId) ?? "", sequenceNumber: string(sequenceNumber) ?? "" }
}

/**
 * A PutRecords response in CBOR, read straight into its results: the same output as
 * `putRecordsResponse(parse("cbor", body))` without a map made per record first (~15 % less time per
 * result).
 */
export const putRecordsResponseCbor = (body: ResponseBody): Kinesis.PutRecordsResponse => {
  const reader = new Reader(body)
  if (reader.remaining() === 0 || reader.peek() >> 5 !== 5) return putRecordsResponse(parse("cbor", body))
  const { records, rest } = readResponse(reader, putRecordsResultCbor)
  if (records === undefined) throw new MalformedResponse("PutRecords response has no Records")
  const encryptionType = string(rest.EncryptionType) as Kinesis.EncryptionType | undefined
  return {
    failedRecordCount: number(rest.FailedRecordCount) ?? 0,
    records,
    ...(encryptionType === undefined ? {} : { encryptionType })
  }
}

/** A PutRecord response. */
export const putRecordResponse = (out: unknown): Kinesis.PutRecordResponse => {
  if (!isFields(out) || typeof out.SequenceNumber !== "string" || typeof out.ShardId !== "string") {
    throw new MalformedResponse("PutRecord response has no ShardId and SequenceNumber")
  }
  const encryptionType = string(out.EncryptionType) as Kinesis.EncryptionType | undefined
  return {
    shardId: out.ShardId,
    sequenceNumber: out.SequenceNumber,
    ...(encryptionType === undefined ? {} : { encryptionType })
  }
}

const childShards = (u: unknown): Kinesis.GetRecordsResponse["childShards"] => {
  if (!Array.isArray(u)) return undefined
  return u.map((c: unknown) => {
    const child = isFields(c) ? c : {}
    const range = isFields(child.HashKeyRange) ? child.HashKeyRange : {}
    return {
      shardId: string(child.ShardId) ?? "",
      parentShards: Array.isArray(child.ParentShards) ? child.ParentShards.filter((p) => typeof p === "string") : [],
      hashKeyRange: {
        startingHashKey: string(range.StartingHashKey) ?? "0",
        endingHashKey: string(range.EndingHashKey) ?? "0"
      }
    }
  })
}

/** One record of a GetRecords response (a map, read whole). */
const kinesisRecord = (r: unknown): Kinesis.KinesisRecord => {
  if (!isFields(r)) throw new MalformedResponse("GetRecords response: a record is not a map")
  return {
    sequenceNumber: string(r.SequenceNumber) ?? "",
    approximateArrivalTimestamp: timestamp(r.ApproximateArrivalTimestamp),
    data: data(r.Data),
    partitionKey: string(r.PartitionKey) ?? "",
    encryptionType: string(r.EncryptionType) as Kinesis.EncryptionType | undefined
  }
}

/** One record read field by field from the CBOR reader (no map made for it). */
const kinesisRecordCbor = (reader: Reader): Kinesis.KinesisRecord => {
  if (reader.peek() >> 5 !== 5) return kinesisRecord(reader.item())
  const entries = reader.container(5)
  let sequenceNumber: unknown
  let arrival: unknown
  let bytes: unknown
  let partitionKey: unknown
  let encryptionType: unknown
  for (let i = 0; entries < 0 ? !reader.atBreak() : i < entries; i++) {
    const key = reader.key()
    const value = reader.item()
    switch (key) {
      case "SequenceNumber":
        sequenceNumber = value
        break
      case "ApproximateArrivalTimestamp":
        arrival = value
        break
      case "Data":
        bytes = value
        break
      case "PartitionKey":
        partitionKey = value
        break
      case "EncryptionType":
        encryptionType = value
        break
    }
  }
  return {
    sequenceNumber: string(sequenceNumber) ?? "",
    approximateArrivalTimestamp: timestamp(arrival),
    data: data(bytes),
    partitionKey: string(partitionKey) ?? "",
    encryptionType: string(encryptionType) as Kinesis.EncryptionType | undefined
  }
}

/**
 * A GetRecords response in CBOR, read straight into its records (its body's chunks in place; record
 * data are views into them): the same output as `getRecordsResponse(parse("cbor", body))` without a
 * map made per record first.
 */
export const getRecordsResponseCbor = (body: ResponseBody): Kinesis.GetRecordsResponse => {
  const reader = new Reader(body)
  // (an empty body reads as an empty map, as `parse` has it)
  if (reader.remaining() === 0) return getRecordsResponse({})
  if (reader.peek() >> 5 !== 5) throw new MalformedResponse("GetRecords response is not a map")
  const { records, rest } = readResponse(reader, kinesisRecordCbor)
  return {
    records: records ?? [],
    nextShardIterator: string(rest.NextShardIterator),
    millisBehindLatest: number(rest.MillisBehindLatest),
    childShards: childShards(rest.ChildShards)
  }
}

/** A GetRecords response: record data are views into the response body (CBOR) or fresh bytes (base64). */
export const getRecordsResponse = (out: unknown): Kinesis.GetRecordsResponse => {
  if (!isFields(out)) throw new MalformedResponse("GetRecords response is not a map")
  const raw = Array.isArray(out.Records) ? out.Records as Array<unknown> : []
  const records = new Array<Kinesis.KinesisRecord>(raw.length)
  for (let i = 0; i < raw.length; i++) records[i] = kinesisRecord(raw[i])
  return {
    records,
    nextShardIterator: string(out.NextShardIterator),
    millisBehindLatest: number(out.MillisBehindLatest),
    childShards: childShards(out.ChildShards)
  }
}
