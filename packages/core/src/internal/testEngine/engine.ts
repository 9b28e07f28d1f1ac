/** @internal */
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Kinesis from "../../Kinesis.js"
import {
  AccessDenied,
  ExpiredIterator,
  ExpiredNextToken,
  InvalidArgument,
  KinesisUnknownError,
  KmsError,
  LimitExceeded,
  ProvisionedThroughputExceeded,
  ResourceInUse,
  ResourceNotFound,
  type ServiceError
} from "../../KinesisError.js"
import type * as KinesisTest from "../../KinesisTest.js"
import * as StreamAddress from "../../StreamAddress.js"
import { fromSdkError } from "../sdkErrors.js"
import { md5Hex, parseHashKey, toHex, uniformRangesBigInt, uniformStart } from "../shardMap.js"
import {
  decodePageToken,
  decodeSequenceNumber,
  encodeIterator,
  encodePageToken,
  type Iterator,
  shardIdOf,
  shardIndexOf
} from "./codec.js"
import { mulberry32 } from "./prng.js"
import { Bucket, type ShardState, StreamState } from "./state.js"

/** What a PutRecord may fail with (the record-level codes of PutRecords, as request errors). */
const PUT_RECORD_ERRORS: ReadonlyArray<Kinesis.PutRecordError["_tag"]> = [
  "ProvisionedThroughputExceeded",
  "LimitExceeded",
  "ResourceNotFound",
  "InvalidArgument",
  "AccessDenied",
  "KmsError",
  "KinesisUnknownError"
]

/** @internal */
export type Operation = KinesisTest.Operation

/** @internal */
export type OperationError<Op extends Operation> = KinesisTest.OperationError<Op>

/** Every limit as a number, `Infinity` when off. @internal */
export type ResolvedLimits = { readonly [K in keyof KinesisTest.Limits]: number }

/** @internal */
export interface ResolvedOptions {
  readonly seed: number
  readonly region: string
  readonly accountId: string
  readonly retentionMs: number
  readonly createMs: number
  readonly updateMs: number
  readonly deleteMs: number
  readonly listShardsPageSize: number
  readonly callLogSize: number
}

/** @internal */
export const ITERATOR_LIFETIME_MS = 300_000
const NEXT_TOKEN_LIFETIME_MS = 300_000
const ON_DEMAND_SHARDS = 4
const MAX_SHARDS_PER_STREAM = 10_000
const MAX_PARTITION_KEY_LENGTH = 256
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/

const RATE_LIMITS = [
  "writeRecordsPerSecond",
  "writeBytesPerSecond",
  "readCallsPerSecond",
  "readBytesPerSecond",
  "getShardIteratorCallsPerSecond"
] as const

/** Merges limit overrides into `base`: `false` turns every rate limit off, a `false` field turns one off. @internal */
export const resolveLimits = (
  input: Partial<KinesisTest.Limits> | false | undefined,
  base: ResolvedLimits
): ResolvedLimits => {
  const out: { -readonly [K in keyof ResolvedLimits]: number } = { ...base }
  if (input === false) {
    for (const key of RATE_LIMITS) out[key] = Number.POSITIVE_INFINITY
    return out
  }
  if (input === undefined) return out
  for (const key of Object.keys(input) as Array<keyof KinesisTest.Limits>) {
    const value = input[key]
    if (value === undefined) continue
    out[key] = value === false ? Number.POSITIVE_INFINITY : value
  }
  return out
}

/** UTF-8 length of a string without encoding it. */
const utf8Length = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) n += 1
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 1 // a surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes
      i++
    } else n += 2
  }
  return n
}

/**
 * What a call did, filled in by the operation and written to the call log.
 *
 * @internal
 */
export class CallContext {
  shardId: string | undefined = undefined
  records = 0
  bytes = 0
  failedRecords = 0
  constructor(
    readonly operation: Operation,
    /** The stream's name (call log). */
    readonly stream: string | undefined,
    /** The stream as the request addressed it, name or ARN (errors). */
    readonly label: string | undefined,
    readonly time: number
  ) {}
}

/** A bounded call log (ring buffer). @internal */
export class CallLog {
  private entries: Array<KinesisTest.Call> = []
  private next = 0
  constructor(readonly capacity: number) {}
  add(ctx: CallContext, error: string | undefined): void {
    if (this.capacity <= 0) return
    const entry: KinesisTest.Call = {
      operation: ctx.operation,
      stream: ctx.label,
      shardId: ctx.shardId,
      records: ctx.records,
      bytes: ctx.bytes,
      failedRecords: ctx.failedRecords,
      time: ctx.time,
      outcome: error === undefined ? "success" : "failure",
      error
    }
    if (this.entries.length < this.capacity) {
      this.entries.push(entry)
    } else {
      this.entries[this.next] = entry
      this.next = (this.next + 1) % this.capacity
    }
  }
  toArray(): ReadonlyArray<KinesisTest.Call> {
    return this.next === 0 ? [...this.entries] : [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)]
  }
  clear(): void {
    this.entries = []
    this.next = 0
  }
}

interface FailNextFault {
  remaining: number
  readonly stream: string | undefined
  readonly make: (stream: string | undefined) => ServiceError
}

interface RecordFault {
  remaining: number
  readonly stream: string | undefined
  readonly select: (entry: Kinesis.PutRecordsEntry, index: number) => boolean
  readonly errorCode: string
  readonly errorMessage: string | undefined
}

interface ThrottleFault {
  readonly stream: string | undefined
  readonly fraction: number
  readonly errorCode: string
}

/** The faults in force. @internal */
export class Faults {
  /** By operation; the errors of `failNext(op, …)` belong to `OperationError<op>` (its signature says so). */
  readonly failNext = new Map<Operation, Array<FailNextFault>>()
  records: Array<RecordFault> = []
  throttles: Array<ThrottleFault> = []
  latency = new Map<Operation | "*", number>()

  clear(): void {
    this.failNext.clear()
    this.records = []
    this.throttles = []
    this.latency.clear()
  }

  latencyFor(operation: Operation): number {
    if (this.latency.size === 0) return 0
    return this.latency.get(operation) ?? this.latency.get("*") ?? 0
  }

  /** The injected error for this call, if a `failNext` fault matches (and is used up by it). */
  take<Op extends Operation>(operation: Op, stream: string | undefined): OperationError<Op> | undefined {
    if (this.failNext.size === 0) return undefined
    const faults = this.failNext.get(operation)
    if (faults === undefined || faults.length === 0) return undefined
    const i = faults.findIndex((f) => f.stream === undefined || f.stream === stream)
    if (i < 0) return undefined
    const fault = faults[i]!
    fault.remaining--
    if (fault.remaining <= 0) faults.splice(i, 1)
    // registered through `failNext<Op>`, whose options only admit `OperationError<Op>` (or its tags)
    return fault.make(stream) as OperationError<Op>
  }
}

/** Builds the error a `failNext` fault names by its tag, with an AWS-like message. @internal */
export const injectedError = (
  tag: ServiceError["_tag"],
  operation: Operation,
  stream: string | undefined,
  accountId: string
): ServiceError => {
  const fields = { operation, stream, message: "" }
  const where = stream === undefined ? "" : ` for stream ${stream} under account ${accountId}`
  const suffix = " (injected by KinesisTest)"
  switch (tag) {
    case "ProvisionedThroughputExceeded":
      return new ProvisionedThroughputExceeded({ ...fields, message: `Rate exceeded${where}.${suffix}` })
    case "ExpiredIterator":
      return new ExpiredIterator({ ...fields, message: `Iterator expired.${suffix}` })
    case "ExpiredNextToken":
      return new ExpiredNextToken({ ...fields, message: `The NextToken has expired.${suffix}` })
    case "ResourceNotFound":
      return new ResourceNotFound({
        ...fields,
        message: `Stream ${stream} under account ${accountId} not found.${suffix}`
      })
    case "ResourceInUse":
      return new ResourceInUse({
        ...fields,
        message: `Stream ${stream} under account ${accountId} not ACTIVE, instead in state UPDATING.${suffix}`
      })
    case "InvalidArgument":
      return new InvalidArgument({
        ...fields,
        awsName: "InvalidArgumentException",
        message: `Invalid argument.${suffix}`
      })
    case "AccessDenied":
      return new AccessDenied({
        ...fields,
        message: `User is not authorized to perform ${operation}${where}.${suffix}`
      })
    case "LimitExceeded":
      return new LimitExceeded({ ...fields, message: `Rate exceeded${where}.${suffix}` })
    case "KmsError":
      return new KmsError({ ...fields, kind: "KMSThrottlingException", message: `KMS rate exceeded.${suffix}` })
    case "KinesisUnknownError":
      return new KinesisUnknownError({
        ...fields,
        name: "InternalFailure",
        retryable: true,
        message: `Internal service failure.${suffix}`
      })
  }
}

const defaultRecordErrorMessage = (code: string): string =>
  code === "ProvisionedThroughputExceededException"
    ? "Rate exceeded (injected by KinesisTest)."
    : code === "InternalFailure"
    ? "Internal service failure (injected by KinesisTest)."
    : `${code} (injected by KinesisTest).`

type Result<A, E> = Exit.Exit<A, E>
const ok: <A>(a: A) => Exit.Exit<A, never> = Exit.succeed
const ko: <E>(e: E) => Exit.Exit<never, E> = Exit.fail
/** A failure, re-typed for any success type. @internal */
export const rethrow = <E>(failure: Exit.Failure<unknown, E>): Exit.Exit<never, E> => Exit.failCause(failure.cause)

/**
 * The engine's state and its operations. Every operation is synchronous: it runs at one `now` (Clock
 * milliseconds) and returns an `Exit`.
 *
 * @internal
 */
export class Engine {
  readonly streams = new Map<string, StreamState>()
  readonly faults = new Faults()
  readonly log: CallLog
  readonly random: () => number
  private incarnations = 0

  constructor(readonly options: ResolvedOptions, public limits: ResolvedLimits) {
    this.log = new CallLog(options.callLogSize)
    this.random = mulberry32(options.seed)
  }

  // -------------------------------------------------------------------------------------------
  // errors, with AWS's messages
  // -------------------------------------------------------------------------------------------

  private notFound(operation: string, stream: string | undefined, name: string): ResourceNotFound {
    return new ResourceNotFound({
      operation,
      stream,
      message: `Stream ${name} under account ${this.options.accountId} not found.`
    })
  }

  private shardNotFound(operation: string, stream: string | undefined, name: string, shardId: string) {
    return new ResourceNotFound({
      operation,
      stream,
      message: `Shard ${shardId} in stream ${name} under account ${this.options.accountId} does not exist`
    })
  }

  private notActive(operation: string, stream: string | undefined, s: StreamState): ResourceInUse {
    return new ResourceInUse({
      operation,
      stream,
      message: `Stream ${s.name} under account ${this.options.accountId} not ACTIVE, instead in state ${s.status}`
    })
  }

  private invalid(
    operation: string,
    stream: string | undefined,
    message: string,
    awsName: "InvalidArgumentException" | "ValidationException" = "InvalidArgumentException"
  ): InvalidArgument {
    return new InvalidArgument({ operation, stream, message, awsName })
  }

  private throttled(operation: string, stream: string | undefined, s: StreamState, shard: ShardState) {
    return new ProvisionedThroughputExceeded({
      operation,
      stream,
      shardId: shard.id,
      message: `Rate exceeded for shard ${shard.id} in stream ${s.name} under account ${this.options.accountId}.`
    })
  }

  // -------------------------------------------------------------------------------------------
  // streams and their life cycle
  // -------------------------------------------------------------------------------------------

  arnOf(name: string): string {
    return `arn:aws:kinesis:${this.options.region}:${this.options.accountId}:stream/${name}`
  }

  /** Brings a stream's state up to `now`: status transitions, pending reshard, expired shards. */
  private advance(stream: StreamState, now: number): StreamState | undefined {
    if (stream.status !== "ACTIVE" && now >= stream.statusUntil) {
      if (stream.status === "DELETING") {
        this.streams.delete(stream.name)
        return undefined
      }
      if (stream.status === "UPDATING" && stream.pending !== undefined) {
        const pending = stream.pending
        stream.pending = undefined
        pending(stream.statusUntil)
      }
      stream.status = "ACTIVE"
    }
    stream.expireShards(now)
    return stream
  }

  /** The stream an address names (any status), brought up to `now`. */
  lookup(address: StreamAddress.StreamAddress, now: number): StreamState | undefined {
    const stream = this.streams.get(address.name)
    if (stream === undefined) return undefined
    if (address._tag === "StreamArn" && address.arn !== stream.arn) return undefined
    return this.advance(stream, now)
  }

  /** A stream that takes data-plane calls (ACTIVE or UPDATING). */
  private dataStream(address: StreamAddress.StreamAddress, now: number): StreamState | undefined {
    const stream = this.lookup(address, now)
    return stream !== undefined && (stream.status === "ACTIVE" || stream.status === "UPDATING") ? stream : undefined
  }

  /** Creates a stream with `shards` uniform shards. */
  addStream(
    name: string,
    options: {
      readonly shards: number
      readonly mode: Kinesis.StreamMode
      readonly retentionMs: number
      readonly maxRecordSize: number | undefined
    },
    now: number
  ): StreamState {
    const stream = new StreamState(
      name,
      this.arnOf(name),
      ++this.incarnations,
      options.mode,
      now,
      options.retentionMs,
      options.maxRecordSize
    )
    for (const range of uniformRangesBigInt(options.shards)) stream.addShard(range.start, range.end, [], now)
    stream.reindex()
    this.streams.set(name, stream)
    return stream
  }

  // -------------------------------------------------------------------------------------------
  // data plane
  // -------------------------------------------------------------------------------------------

  /**
   * PutRecord: the record goes through PutRecords' validation, limits and faults, and a record-level
   * failure becomes the request's error, as AWS answers a single put. `SequenceNumberForOrdering` needs
   * nothing more here: sequence numbers already grow with every put (per stream, so per key).
   */
  putRecord(
    request: Kinesis.PutRecordRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.PutRecordResponse, Kinesis.PutRecordError> {
    const op = "putRecord"
    const ordering = request.sequenceNumberForOrdering
    if (ordering !== undefined && !/^(0|[1-9]\d{0,128})$/.test(ordering)) {
      return ko(this.invalid(
        op,
        ctx.label,
        `1 validation error detected: Value '${ordering}' at 'sequenceNumberForOrdering' failed to satisfy ` +
          `constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})`,
        "ValidationException"
      ))
    }
    const entry: Kinesis.PutRecordsEntry = request.explicitHashKey === undefined
      ? { data: request.data, partitionKey: request.partitionKey }
      : { data: request.data, partitionKey: request.partitionKey, explicitHashKey: request.explicitHashKey }
    const out = this.put(op, { stream: request.stream, records: [entry] }, now, ctx)
    if (Exit.isFailure(out)) return Exit.failCause(out.cause)
    const result = out.value.records[0]!
    if (result._tag === "Success") return ok({ shardId: result.shardId, sequenceNumber: result.sequenceNumber })
    return ko(
      fromSdkError(
        { name: result.errorCode, message: result.errorMessage },
        op,
        ctx.label,
        PUT_RECORD_ERRORS
      ) as Kinesis.PutRecordError
    )
  }

  putRecords(
    request: Kinesis.PutRecordsRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.PutRecordsResponse, Kinesis.PutRecordsError> {
    return this.put("putRecords", request, now, ctx)
  }

  private put(
    op: "putRecords" | "putRecord",
    request: Kinesis.PutRecordsRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.PutRecordsResponse, Kinesis.PutRecordsError> {
    const label = ctx.label
    const stream = this.dataStream(request.stream, now)
    if (stream === undefined) return ko(this.notFound(op, label, request.stream.name))
    const entries = request.records
    const n = entries.length
    ctx.records = n
    const limits = this.limits
    if (n === 0) {
      return ko(this.invalid(
        op,
        label,
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: " +
          "Member must have length greater than or equal to 1",
        "ValidationException"
      ))
    }
    if (n > limits.maxRecordsPerPutRecords) {
      return ko(this.invalid(
        op,
        label,
        `1 validation error detected: Value '[${n} records]' at 'records' failed to satisfy constraint: ` +
          `Member must have length less than or equal to ${limits.maxRecordsPerPutRecords}`,
        "ValidationException"
      ))
    }
    const maxRecordSize = stream.maxRecordSize ?? limits.maxRecordSize
    const sizes = new Array<number>(n)
    const hexes = new Array<string>(n)
    let total = 0
    let dataBytes = 0
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!
      const key = entry.partitionKey
      if (key.length < 1 || key.length > MAX_PARTITION_KEY_LENGTH) {
        return ko(this.invalid(
          op,
          label,
          `1 validation error detected: Value '${key.slice(0, 300)}' at 'records.${i + 1}.member.partitionKey' ` +
            `failed to satisfy constraint: Member must have length ${
              key.length < 1 ? "greater than or equal to 1" : `less than or equal to ${MAX_PARTITION_KEY_LENGTH}`
            }`,
          "ValidationException"
        ))
      }
      const size = entry.data.length + utf8Length(key)
      if (size > maxRecordSize) {
        return ko(
          entry.data.length > maxRecordSize
            ? this.invalid(
              op,
              label,
              `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${entry.data.length} cap=${entry.data.length}]' ` +
                `at 'records.${i + 1}.member.data' failed to satisfy constraint: ` +
                `Member must have length less than or equal to ${maxRecordSize}`,
              "ValidationException"
            )
            : this.invalid(
              op,
              label,
              `Record ${i} of ${size} bytes (data + partition key) exceeds the maximum record size of ${maxRecordSize} bytes`
            )
        )
      }
      if (entry.explicitHashKey !== undefined) {
        const explicit = parseHashKey(entry.explicitHashKey)
        if (Option.isNone(explicit)) {
          return ko(this.invalid(
            op,
            label,
            /^(0|[1-9]\d{0,38})$/.test(entry.explicitHashKey)
              ? `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${entry.explicitHashKey}`
              : `1 validation error detected: Value '${entry.explicitHashKey}' at 'records.${
                i + 1
              }.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})`,
            /^(0|[1-9]\d{0,38})$/.test(entry.explicitHashKey) ? "InvalidArgumentException" : "ValidationException"
          ))
        }
        hexes[i] = toHex(explicit.value)
      } else {
        hexes[i] = md5Hex(key)
      }
      sizes[i] = size
      total += size
      dataBytes += entry.data.length
    }
    if (total > limits.maxBytesPerPutRecords) {
      return ko(this.invalid(
        op,
        label,
        `Records size of ${total} bytes exceeds the PutRecords request limit of ${limits.maxBytesPerPutRecords} bytes`
      ))
    }

    // faults of this call
    let recordFault: RecordFault | undefined
    let throttle: ThrottleFault | undefined
    if (this.faults.records.length > 0) {
      const i = this.faults.records.findIndex((f) => f.stream === undefined || f.stream === stream.name)
      if (i >= 0) {
        recordFault = this.faults.records[i]!
        if (--recordFault.remaining <= 0) this.faults.records.splice(i, 1)
      }
    }
    if (this.faults.throttles.length > 0) {
      throttle = this.faults.throttles.find((f) => f.stream === undefined || f.stream === stream.name)
    }

    const recordRate = limits.writeRecordsPerSecond
    const byteRate = limits.writeBytesPerSecond
    const limited = recordRate !== Number.POSITIVE_INFINITY || byteRate !== Number.POSITIVE_INFINITY
    const cutoff = now - stream.retentionMs
    const results = new Array<Kinesis.PutRecordsResultEntry>(n)
    // The stored data is a copy (the caller may reuse its buffers), made into one buffer per call: one
    // allocation per request rather than per record.
    const copy = new Uint8Array(dataBytes)
    let offset = 0
    let failed = 0
    let bytes = 0
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!
      const size = sizes[i]!
      const shard = stream.route(hexes[i]!)
      if (recordFault !== undefined && recordFault.select(entry, i)) {
        results[i] = {
          _tag: "Failure",
          errorCode: recordFault.errorCode,
          errorMessage: recordFault.errorMessage ?? defaultRecordErrorMessage(recordFault.errorCode)
        }
        failed++
        continue
      }
      if (throttle !== undefined && this.random() < throttle.fraction) {
        results[i] = {
          _tag: "Failure",
          errorCode: throttle.errorCode,
          errorMessage: throttle.errorCode === "ProvisionedThroughputExceededException"
            ? `Rate exceeded for shard ${shard.id} in stream ${stream.name} under account ${this.options.accountId}.`
            : defaultRecordErrorMessage(throttle.errorCode)
        }
        failed++
        continue
      }
      if (limited) {
        const records = shard.writeRecords ??= new Bucket(recordRate, now)
        const byteBucket = shard.writeBytes ??= new Bucket(byteRate, now)
        if (recordRate !== Number.POSITIVE_INFINITY) records.refill(recordRate, now)
        if (byteRate !== Number.POSITIVE_INFINITY) byteBucket.refill(byteRate, now)
        if (
          (recordRate !== Number.POSITIVE_INFINITY && records.tokens < 1) ||
          // a record larger than a second's budget (a stream with a raised maximum record size) goes in
          // when the budget is whole, and overdraws it
          (byteRate !== Number.POSITIVE_INFINITY && byteBucket.tokens < Math.min(size, byteRate))
        ) {
          results[i] = {
            _tag: "Failure",
            errorCode: "ProvisionedThroughputExceededException",
            errorMessage:
              `Rate exceeded for shard ${shard.id} in stream ${stream.name} under account ${this.options.accountId}.`
          }
          failed++
          continue
        }
        records.tokens -= 1
        byteBucket.tokens -= size
      }
      shard.trim(cutoff)
      const counter = ++stream.counter
      const arrival = now > shard.lastArrival ? now : shard.lastArrival
      let date = shard.lastDate
      if (date === undefined || shard.lastArrival !== arrival) {
        date = new Date(arrival)
        shard.lastDate = date
        shard.lastArrival = arrival
      }
      const sequenceNumber = `49${counter.toString().padStart(20, "0")}${shard.seqSuffix}`
      shard.counters.push(counter)
      shard.arrivals.push(arrival)
      shard.sizes.push(size)
      shard.records.push({
        sequenceNumber,
        approximateArrivalTimestamp: date,
        data: copy.subarray(offset, offset + entry.data.length),
        partitionKey: entry.partitionKey
      })
      copy.set(entry.data, offset)
      offset += entry.data.length
      results[i] = { _tag: "Success", shardId: shard.id, sequenceNumber }
      bytes += size
    }
    ctx.bytes = bytes
    ctx.failedRecords = failed
    return ok({ failedRecordCount: failed, records: results })
  }

  getShardIterator(
    request: Kinesis.GetShardIteratorRequest,
    now: number,
    ctx: CallContext
  ): Result<string, Kinesis.GetShardIteratorError> {
    const op = "getShardIterator"
    const label = ctx.label
    const stream = this.dataStream(request.stream, now)
    if (stream === undefined) return ko(this.notFound(op, label, request.stream.name))
    const shard = stream.byId.get(request.shardId)
    if (shard === undefined) return ko(this.shardNotFound(op, label, stream.name, request.shardId))
    ctx.shardId = shard.id
    const rate = this.limits.getShardIteratorCallsPerSecond
    if (rate !== Number.POSITIVE_INFINITY) {
      const bucket = shard.iteratorCalls ??= new Bucket(rate, now)
      bucket.refill(rate, now)
      if (bucket.tokens < 1) return ko(this.throttled(op, label, stream, shard))
      bucket.tokens -= 1
    }
    shard.trim(now - stream.retentionMs)
    const position = request.position
    let at: number
    switch (position.type) {
      case "TRIM_HORIZON":
        at = 0
        break
      case "LATEST":
        at = stream.counter
        break
      case "AT_SEQUENCE_NUMBER":
      case "AFTER_SEQUENCE_NUMBER": {
        const decoded = decodeSequenceNumber(position.sequenceNumber)
        const where =
          `StartingSequenceNumber ${position.sequenceNumber} used in GetShardIterator on shard ${shard.id} in stream ${stream.name} under account ${this.options.accountId}`
        if (decoded === undefined) {
          return ko(this.invalid(op, label, `${where} is invalid.`))
        }
        if (decoded.shardIndex !== shard.index || decoded.incarnation !== stream.incarnation) {
          return ko(this.invalid(op, label, `${where} is invalid because it did not come from this stream.`))
        }
        at = position.type === "AT_SEQUENCE_NUMBER" ? decoded.counter - 1 : decoded.counter
        break
      }
      case "AT_TIMESTAMP": {
        const time = position.timestamp.getTime()
        if (Number.isNaN(time)) return ko(this.invalid(op, label, "The timestamp is not a valid date."))
        const index = shard.indexAtTime(time)
        at = index < shard.counters.length ? shard.counters[index]! - 1 : stream.counter
        break
      }
    }
    return ok(encodeIterator({
      stream: stream.name,
      incarnation: stream.incarnation,
      shardIndex: shard.index,
      position: at,
      issuedAt: now
    }))
  }

  getRecords(
    request: Kinesis.GetRecordsRequest,
    iterator: Iterator | undefined,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.GetRecordsResponse, Kinesis.GetRecordsError> {
    const op = "getRecords"
    const label = ctx.label
    const limits = this.limits
    if (iterator === undefined) return ko(this.invalid(op, label, "Invalid ShardIterator."))
    const limit = request.limit ?? limits.maxRecordsPerGetRecords
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxRecordsPerGetRecords) {
      return ko(this.invalid(
        op,
        label,
        `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value ${
          limit < 1 ? "greater than or equal to 1" : `less than or equal to ${limits.maxRecordsPerGetRecords}`
        }`,
        "ValidationException"
      ))
    }
    if (request.stream !== undefined && request.stream.name !== iterator.stream) {
      return ko(this.invalid(op, label, `The shard iterator does not belong to stream ${request.stream.name}.`))
    }
    if (now - iterator.issuedAt > ITERATOR_LIFETIME_MS) {
      return ko(
        new ExpiredIterator({
          operation: op,
          stream: label,
          message: `Iterator expired. The iterator was created at time ${
            new Date(iterator.issuedAt).toUTCString()
          } while right now it is ${
            new Date(now).toUTCString()
          } which is further in the future than the tolerated delay of ${ITERATOR_LIFETIME_MS} milliseconds.`
        })
      )
    }
    const found = this.streams.get(iterator.stream)
    const stream = found === undefined || found.incarnation !== iterator.incarnation
      ? undefined
      : this.advance(found, now)
    if (stream === undefined || !(stream.status === "ACTIVE" || stream.status === "UPDATING")) {
      return ko(this.notFound(op, label, iterator.stream))
    }
    if (request.stream?._tag === "StreamArn" && request.stream.arn !== stream.arn) {
      return ko(this.notFound(op, label, iterator.stream))
    }
    const shardId = shardIdOf(iterator.shardIndex)
    const shard = stream.byId.get(shardId)
    if (shard === undefined) return ko(this.shardNotFound(op, label, stream.name, shardId))
    ctx.shardId = shard.id

    const callRate = limits.readCallsPerSecond
    const byteRate = limits.readBytesPerSecond
    let calls: Bucket | undefined
    let byteBucket: Bucket | undefined
    if (callRate !== Number.POSITIVE_INFINITY) {
      calls = shard.readCalls ??= new Bucket(callRate, now)
      calls.refill(callRate, now)
      if (calls.tokens < 1) return ko(this.throttled(op, label, stream, shard))
    }
    if (byteRate !== Number.POSITIVE_INFINITY) {
      byteBucket = shard.readBytes ??= new Bucket(byteRate, now)
      byteBucket.refill(byteRate, now)
      if (byteBucket.tokens < 0) return ko(this.throttled(op, label, stream, shard))
    }
    if (calls !== undefined) calls.tokens -= 1

    shard.trim(now - stream.retentionMs)
    const start = shard.indexAfter(iterator.position)
    const length = shard.counters.length
    const maxBytes = limits.maxBytesPerGetRecords
    const sizes = shard.sizes
    let end = start
    let bytes = 0
    const last = Math.min(length, start + limit)
    while (end < last) {
      const size = sizes[end]!
      if (end > start && bytes + size > maxBytes) break
      bytes += size
      end++
    }
    if (byteBucket !== undefined) byteBucket.tokens -= bytes
    ctx.records = end - start
    ctx.bytes = bytes
    const records = end > start ? shard.records.slice(start, end) : []
    // how old the data the reader has reached is, while records remain after it; 0 once caught up
    const millisBehindLatest = end < length && end > start ? Math.max(0, Math.floor(now - shard.arrivals[end - 1]!)) : 0
    if (!shard.isOpen && end >= length) {
      return ok({
        records,
        nextShardIterator: undefined,
        millisBehindLatest,
        childShards: shard.children.map((child): Kinesis.ChildShard => ({
          shardId: child.id,
          parentShards: child.parents,
          hashKeyRange: child.hashKeyRange
        }))
      })
    }
    return ok({
      records,
      nextShardIterator: encodeIterator({
        stream: stream.name,
        incarnation: stream.incarnation,
        shardIndex: shard.index,
        position: end > start ? shard.counters[end - 1]! : iterator.position,
        issuedAt: now
      }),
      millisBehindLatest,
      childShards: undefined
    })
  }

  // -------------------------------------------------------------------------------------------
  // listing and description
  // -------------------------------------------------------------------------------------------

  listShardsPage(
    request: {
      readonly stream: StreamAddress.StreamAddress
      readonly nextToken: string | undefined
      readonly shardFilter: Kinesis.ShardFilter | undefined
      readonly exclusiveStartShardId: string | undefined
      readonly pageSize: number | undefined
    },
    now: number,
    ctx: CallContext
  ): Result<
    { readonly shards: Array<Kinesis.Shard>; readonly nextToken: string | undefined },
    Kinesis.ListShardsError
  > {
    const op = "listShards"
    const label = ctx.label
    const pageSize = request.pageSize
    if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)) {
      return ko(this.invalid(
        op,
        label,
        `1 validation error detected: Value '${pageSize}' at 'maxResults' failed to satisfy constraint: ` +
          `Member must have value between 1 and 10000`,
        "ValidationException"
      ))
    }
    const size = Math.min(pageSize ?? this.options.listShardsPageSize, 1000)
    let stream: StreamState | undefined
    let after = -1
    let filter = ""
    let timestamp = 0
    if (request.nextToken !== undefined) {
      const token = decodePageToken(request.nextToken)
      if (token === undefined) return ko(this.invalid(op, label, "Invalid NextToken."))
      if (now - token.issuedAt > NEXT_TOKEN_LIFETIME_MS) {
        return ko(new ExpiredNextToken({ operation: op, stream: label, message: "The NextToken has expired." }))
      }
      const found = this.streams.get(token.stream)
      stream = found === undefined || found.incarnation !== token.incarnation ? undefined : this.advance(found, now)
      if (stream === undefined) return ko(this.notFound(op, label, token.stream))
      after = token.afterIndex
      filter = token.filter
      timestamp = token.timestamp
    } else {
      stream = this.lookup(request.stream, now)
      if (stream === undefined || stream.status === "DELETING") {
        return ko(this.notFound(op, label, request.stream.name))
      }
      if (stream.status === "CREATING") return ko(this.notActive(op, label, stream))
      if (request.exclusiveStartShardId !== undefined) {
        const index = shardIndexOf(request.exclusiveStartShardId)
        if (index === undefined) {
          return ko(this.invalid(op, label, `Invalid ExclusiveStartShardId ${request.exclusiveStartShardId}.`))
        }
        after = index
      }
      const shardFilter = request.shardFilter
      if (shardFilter !== undefined) {
        switch (shardFilter.type) {
          case "AFTER_SHARD_ID": {
            const index = shardIndexOf(shardFilter.shardId)
            if (index === undefined) return ko(this.invalid(op, label, `Invalid ShardId ${shardFilter.shardId}.`))
            after = Math.max(after, index)
            break
          }
          case "AT_TIMESTAMP":
          case "FROM_TIMESTAMP": {
            timestamp = shardFilter.timestamp.getTime()
            if (Number.isNaN(timestamp)) return ko(this.invalid(op, label, "The timestamp is not a valid date."))
            filter = shardFilter.type
            break
          }
          default:
            filter = shardFilter.type
        }
      }
    }
    const horizon = Math.max(now - stream.retentionMs, stream.createdAt)
    const keep = (shard: ShardState): boolean => {
      if (shard.index <= after) return false
      switch (filter) {
        case "AT_LATEST":
          return shard.isOpen
        case "AT_TRIM_HORIZON":
          return shard.createdAt <= horizon && (shard.closedAt === undefined || shard.closedAt > horizon)
        case "AT_TIMESTAMP": {
          const t = Math.max(timestamp, horizon)
          return shard.createdAt <= t && (shard.closedAt === undefined || shard.closedAt >= t)
        }
        case "FROM_TIMESTAMP":
          return shard.closedAt === undefined || shard.closedAt >= timestamp
        default: // none, FROM_TRIM_HORIZON
          return true
      }
    }
    const page: Array<Kinesis.Shard> = []
    let lastIndex = after
    let more = false
    for (const shard of stream.shards) {
      if (!keep(shard)) continue
      if (page.length === size) {
        more = true
        break
      }
      page.push(shard.toShard())
      lastIndex = shard.index
    }
    ctx.records = page.length
    return ok({
      shards: page,
      nextToken: more
        ? encodePageToken({
          stream: stream.name,
          incarnation: stream.incarnation,
          afterIndex: lastIndex,
          filter,
          timestamp,
          issuedAt: now
        })
        : undefined
    })
  }

  summaryOf(stream: StreamState): Kinesis.StreamSummary {
    return {
      streamName: stream.name,
      streamARN: stream.arn,
      streamStatus: stream.status,
      streamMode: stream.mode,
      retentionPeriodHours: stream.retentionMs / 3_600_000,
      openShardCount: stream.open.length,
      encryptionType: "NONE",
      streamCreationTimestamp: new Date(stream.createdAt),
      consumerCount: 0
    }
  }

  describeStreamSummary(
    address: StreamAddress.StreamAddress,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.StreamSummary, Kinesis.DescribeStreamSummaryError> {
    const stream = this.lookup(address, now)
    if (stream === undefined) return ko(this.notFound("describeStreamSummary", ctx.label, address.name))
    return ok(this.summaryOf(stream))
  }

  listStreams(now: number, ctx: CallContext): Result<ReadonlyArray<Kinesis.StreamListing>, Kinesis.ListStreamsError> {
    const out: Array<Kinesis.StreamListing> = []
    for (const found of [...this.streams.values()]) {
      const stream = this.advance(found, now)
      if (stream === undefined) continue
      out.push({
        streamName: stream.name,
        streamARN: stream.arn,
        streamStatus: stream.status,
        streamMode: stream.mode,
        streamCreationTimestamp: new Date(stream.createdAt)
      })
    }
    out.sort((a, b) => (a.streamName < b.streamName ? -1 : a.streamName > b.streamName ? 1 : 0))
    ctx.records = out.length
    return ok(out)
  }

  // -------------------------------------------------------------------------------------------
  // control plane
  // -------------------------------------------------------------------------------------------

  createStream(
    request: Kinesis.CreateStreamRequest,
    now: number,
    ctx: CallContext
  ): Result<void, Kinesis.CreateStreamError> {
    const op = "createStream"
    const label = ctx.label
    const name = request.streamName
    if (!STREAM_NAME.test(name)) {
      return ko(this.invalid(
        op,
        label,
        `1 validation error detected: Value '${name}' at 'streamName' failed to satisfy constraint: ` +
          "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128",
        "ValidationException"
      ))
    }
    const existing = this.streams.get(name)
    if (existing !== undefined && this.advance(existing, now) !== undefined) {
      return ko(
        new ResourceInUse({
          operation: op,
          stream: label,
          message: `Stream ${name} under account ${this.options.accountId} already exists.`
        })
      )
    }
    const mode = request.streamMode ?? "PROVISIONED"
    let shards: number
    if (mode === "ON_DEMAND") {
      if (request.shardCount !== undefined) {
        return ko(
          this.invalid(op, label, "ShardCount must not be specified for an ON_DEMAND stream.", "ValidationException")
        )
      }
      shards = ON_DEMAND_SHARDS
    } else {
      const count = request.shardCount
      if (count === undefined || !Number.isInteger(count) || count < 1) {
        return ko(this.invalid(
          op,
          label,
          `1 validation error detected: Value '${count ?? "null"}' at 'shardCount' failed to satisfy constraint: ` +
            "Member must have value greater than or equal to 1",
          "ValidationException"
        ))
      }
      shards = count
    }
    if (shards > MAX_SHARDS_PER_STREAM) {
      return ko(
        new LimitExceeded({
          operation: op,
          stream: label,
          message: `This request would exceed the shard limit of ${MAX_SHARDS_PER_STREAM} shards per stream.`
        })
      )
    }
    const stream = this.addStream(
      name,
      { shards, mode, retentionMs: this.options.retentionMs, maxRecordSize: undefined },
      now
    )
    if (this.options.createMs > 0) {
      stream.status = "CREATING"
      stream.statusUntil = now + this.options.createMs
    }
    return ok(undefined)
  }

  deleteStream(
    request: Kinesis.DeleteStreamRequest,
    now: number,
    ctx: CallContext
  ): Result<void, Kinesis.DeleteStreamError> {
    const op = "deleteStream"
    const stream = this.lookup(request.stream, now)
    if (stream === undefined || stream.status === "DELETING") {
      return ko(this.notFound(op, ctx.label, request.stream.name))
    }
    if (stream.status === "CREATING") return ko(this.notActive(op, ctx.label, stream))
    if (this.options.deleteMs > 0) {
      stream.status = "DELETING"
      stream.statusUntil = now + this.options.deleteMs
      stream.pending = undefined
    } else {
      this.streams.delete(stream.name)
    }
    return ok(undefined)
  }

  /** Runs a reshard now, or when the UPDATING period ends. */
  private schedule(stream: StreamState, now: number, apply: (at: number) => void): void {
    if (this.options.updateMs > 0) {
      stream.status = "UPDATING"
      stream.statusUntil = now + this.options.updateMs
      stream.pending = apply
    } else {
      apply(now)
    }
  }

  /** A stream for a reshard through the port: ACTIVE (not being updated). */
  private reshardable(
    operation: Operation,
    address: StreamAddress.StreamAddress,
    now: number,
    ctx: CallContext
  ): Result<StreamState, ResourceNotFound | ResourceInUse> {
    const stream = this.lookup(address, now)
    if (stream === undefined || stream.status === "DELETING") {
      return ko(this.notFound(operation, ctx.label, address.name))
    }
    if (stream.status !== "ACTIVE") return ko(this.notActive(operation, ctx.label, stream))
    return ok(stream)
  }

  private openShard(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shardId: string
  ): Result<ShardState, ResourceNotFound | InvalidArgument> {
    const shard = stream.byId.get(shardId)
    if (shard === undefined) return ko(this.shardNotFound(operation, label, stream.name, shardId))
    if (!shard.isOpen) {
      return ko(this.invalid(
        operation,
        label,
        `Shard ${shardId} in stream ${stream.name} under account ${this.options.accountId} has already been ` +
          "merged or split, and thus is not eligible for merging or splitting."
      ))
    }
    return ok(shard)
  }

  /** Validates a split; returns the new starting hash key. */
  private checkSplit(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shard: ShardState,
    newStartingHashKey: string
  ): Result<bigint, InvalidArgument> {
    const key = parseHashKey(newStartingHashKey)
    if (Option.isNone(key) || !(key.value > shard.start + 1n && key.value < shard.end)) {
      return ko(this.invalid(
        operation,
        label,
        `NewStartingHashKey ${newStartingHashKey} used in SplitShard() on shard ${shard.id} in stream ${stream.name} ` +
          `under account ${this.options.accountId} is not both greater than one plus the shard's StartingHashKey ` +
          `${shard.hashKeyRange.startingHashKey} and less than the shard's EndingHashKey ${shard.hashKeyRange.endingHashKey}.`
      ))
    }
    return ok(key.value)
  }

  private checkMerge(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shardId: string,
    adjacentShardId: string
  ): Result<readonly [ShardState, ShardState], ResourceNotFound | InvalidArgument> {
    const a = this.openShard(operation, label, stream, shardId)
    if (Exit.isFailure(a)) return rethrow(a)
    const b = this.openShard(operation, label, stream, adjacentShardId)
    if (Exit.isFailure(b)) return rethrow(b)
    const x = a.value
    const y = b.value
    if (x === y || (x.end + 1n !== y.start && y.end + 1n !== x.start)) {
      return ko(this.invalid(
        operation,
        label,
        `Shards ${shardId} and ${adjacentShardId} in stream ${stream.name} under account ${this.options.accountId} ` +
          "are not an adjacent pair of shards eligible for merging"
      ))
    }
    return ok([x, y] as const)
  }

  /** Closes `shard` and opens its two children [start, key − 1] and [key, end]. */
  private split(stream: StreamState, shard: ShardState, key: bigint, at: number): readonly [ShardState, ShardState] {
    stream.closeShard(shard, at)
    const low = stream.addShard(shard.start, key - 1n, [shard.id], at)
    const high = stream.addShard(key, shard.end, [shard.id], at)
    shard.children.push(low, high)
    return [low, high]
  }

  /** Closes `a` and `b` and opens their child (ParentShardId `a`, AdjacentParentShardId `b`). */
  private merge(stream: StreamState, a: ShardState, b: ShardState, at: number): ShardState {
    stream.closeShard(a, at)
    stream.closeShard(b, at)
    const start = a.start < b.start ? a.start : b.start
    const end = a.end > b.end ? a.end : b.end
    const child = stream.addShard(start, end, [a.id, b.id], at)
    a.children.push(child)
    b.children.push(child)
    return child
  }

  /**
   * UNIFORM_SCALING as a series of the primitive operations AWS performs: every open shard is split at
   * each target boundary inside it, then the pieces inside each target range are merged left to right.
   * Pieces that are split and merged at once appear as closed, empty shards, which keeps the lineage a
   * tree of plain splits and merges (every child has one or two parents).
   */
  private scale(stream: StreamState, target: number, at: number): void {
    const bounds: Array<bigint> = []
    for (let i = 1; i < target; i++) bounds.push(uniformStart(i, target))
    // the open shards are sorted and contiguous, so one pass over the bounds serves them all
    const pieces: Array<ShardState> = []
    let b = 0
    for (const shard of [...stream.open]) {
      let current = shard
      while (b < bounds.length && bounds[b]! <= current.start) b++
      while (b < bounds.length && bounds[b]! <= current.end) {
        const [low, high] = this.split(stream, current, bounds[b]!, at)
        pieces.push(low)
        current = high
        b++
      }
      pieces.push(current)
    }
    // each piece now lies inside one target range: merge the pieces of each range, left to right
    let group: Array<ShardState> = []
    const flush = () => {
      let current = group[0]
      for (let i = 1; i < group.length; i++) current = this.merge(stream, current!, group[i]!, at)
      group = []
    }
    b = 0
    for (const piece of pieces) {
      let crossed = false
      while (b < bounds.length && bounds[b]! <= piece.start) {
        b++
        crossed = true
      }
      if (crossed && group.length > 0) flush()
      group.push(piece)
    }
    if (group.length > 0) flush()
    stream.reindex()
  }

  splitShard(request: Kinesis.SplitShardRequest, now: number, ctx: CallContext): Result<void, Kinesis.ReshardError> {
    const op = "splitShard"
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const shard = this.openShard(op, ctx.label, stream, request.shardToSplit)
    if (Exit.isFailure(shard)) return rethrow(shard)
    ctx.shardId = shard.value.id
    const key = this.checkSplit(op, ctx.label, stream, shard.value, request.newStartingHashKey)
    if (Exit.isFailure(key)) return rethrow(key)
    this.schedule(stream, now, (at) => {
      this.split(stream, shard.value, key.value, at)
      stream.reindex()
    })
    return ok(undefined)
  }

  mergeShards(request: Kinesis.MergeShardsRequest, now: number, ctx: CallContext): Result<void, Kinesis.ReshardError> {
    const op = "mergeShards"
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const pair = this.checkMerge(op, ctx.label, stream, request.shardToMerge, request.adjacentShardToMerge)
    if (Exit.isFailure(pair)) return rethrow(pair)
    ctx.shardId = pair.value[0].id
    this.schedule(stream, now, (at) => {
      this.merge(stream, pair.value[0], pair.value[1], at)
      stream.reindex()
    })
    return ok(undefined)
  }

  updateShardCount(
    request: Kinesis.UpdateShardCountRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.UpdateShardCountResponse, Kinesis.ReshardError> {
    const op = "updateShardCount"
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const current = stream.open.length
    const target = request.targetShardCount
    if (stream.mode === "ON_DEMAND") {
      return ko(this.invalid(op, ctx.label, "UpdateShardCount is not supported for an ON_DEMAND stream."))
    }
    if (!Number.isInteger(target) || target < 1) {
      return ko(this.invalid(
        op,
        ctx.label,
        `1 validation error detected: Value '${target}' at 'targetShardCount' failed to satisfy constraint: ` +
          "Member must have value greater than or equal to 1",
        "ValidationException"
      ))
    }
    if (target > MAX_SHARDS_PER_STREAM) {
      return ko(
        new LimitExceeded({
          operation: op,
          stream: ctx.label,
          message: `UpdateShardCount cannot scale a stream above ${MAX_SHARDS_PER_STREAM} shards.`
        })
      )
    }
    if (target > current * 2) {
      return ko(this.invalid(
        op,
        ctx.label,
        "UpdateShardCount cannot scale up over double your current open shard count. " +
          `Current open shard count: ${current} Target shard count: ${target}`
      ))
    }
    if (target * 2 < current) {
      return ko(this.invalid(
        op,
        ctx.label,
        "UpdateShardCount cannot scale down below half your current open shard count. " +
          `Current open shard count: ${current} Target shard count: ${target}`
      ))
    }
    this.schedule(stream, now, (at) => this.scale(stream, target, at))
    return ok({ currentShardCount: current, targetShardCount: target })
  }

  // -------------------------------------------------------------------------------------------
  // the control service
  // -------------------------------------------------------------------------------------------

  /** A stream for the control service (a pending reshard is applied first). */
  controlStream(
    operation: string,
    input: StreamAddress.StreamAddress | string,
    now: number
  ): Result<StreamState, ResourceNotFound> {
    const address = typeof input === "string" ? StreamAddress.make(input) : Either.right(input)
    const stream = Either.isRight(address) ? this.lookup(address.right, now) : undefined
    const name = typeof input === "string" ? input : StreamAddress.format(input)
    if (stream === undefined) {
      return ko(
        new ResourceNotFound({
          operation,
          stream: name,
          message: `Stream ${name} under account ${this.options.accountId} not found.`
        })
      )
    }
    return ok(stream)
  }

  /** Applies a pending reshard now (the control service reshards whatever the stream's state). */
  settle(stream: StreamState, now: number): void {
    if (stream.pending !== undefined) {
      const pending = stream.pending
      stream.pending = undefined
      pending(now)
    }
    if (stream.status === "UPDATING") stream.status = "ACTIVE"
  }

  controlSplit(
    stream: StreamState,
    shardId: string,
    newStartingHashKey: string | undefined,
    now: number
  ): Result<ReadonlyArray<string>, ResourceNotFound | InvalidArgument> {
    const op = "KinesisTest.splitShard"
    this.settle(stream, now)
    const shard = this.openShard(op, stream.name, stream, shardId)
    if (Exit.isFailure(shard)) return rethrow(shard)
    const middle = (shard.value.start + shard.value.end + 1n) / 2n
    const key = this.checkSplit(op, stream.name, stream, shard.value, newStartingHashKey ?? middle.toString())
    if (Exit.isFailure(key)) return rethrow(key)
    const [low, high] = this.split(stream, shard.value, key.value, now)
    stream.reindex()
    return ok([low.id, high.id])
  }

  controlMerge(
    stream: StreamState,
    shardId: string,
    adjacentShardId: string,
    now: number
  ): Result<string, ResourceNotFound | InvalidArgument> {
    this.settle(stream, now)
    const pair = this.checkMerge("KinesisTest.mergeShards", stream.name, stream, shardId, adjacentShardId)
    if (Exit.isFailure(pair)) return rethrow(pair)
    const child = this.merge(stream, pair.value[0], pair.value[1], now)
    stream.reindex()
    return ok(child.id)
  }

  controlScale(stream: StreamState, target: number, now: number): Result<ReadonlyArray<string>, InvalidArgument> {
    if (!Number.isInteger(target) || target < 1 || target > MAX_SHARDS_PER_STREAM) {
      return ko(this.invalid("KinesisTest.updateShardCount", stream.name, `Invalid target shard count ${target}.`))
    }
    this.settle(stream, now)
    this.scale(stream, target, now)
    return ok(stream.open.map((s) => s.id))
  }

  storedRecords(
    stream: StreamState,
    shardId: string | undefined,
    now: number
  ): Result<ReadonlyArray<KinesisTest.StoredRecord>, ResourceNotFound> {
    const cutoff = now - stream.retentionMs
    const collect = (shard: ShardState, out: Array<{ counter: number; record: KinesisTest.StoredRecord }>) => {
      shard.trim(cutoff)
      for (let i = shard.head; i < shard.records.length; i++) {
        out.push({ counter: shard.counters[i]!, record: { ...shard.records[i]!, shardId: shard.id } })
      }
    }
    const out: Array<{ counter: number; record: KinesisTest.StoredRecord }> = []
    if (shardId !== undefined) {
      const shard = stream.byId.get(shardId)
      if (shard === undefined) {
        return ko(this.shardNotFound("KinesisTest.records", stream.name, stream.name, shardId))
      }
      collect(shard, out)
    } else {
      for (const shard of stream.shards) collect(shard, out)
      out.sort((a, b) => a.counter - b.counter)
    }
    return ok(out.map((o) => o.record))
  }

  shardInfo(stream: StreamState, now: number): ReadonlyArray<KinesisTest.ShardInfo> {
    const cutoff = now - stream.retentionMs
    return stream.shards.map((shard): KinesisTest.ShardInfo => {
      shard.trim(cutoff)
      return {
        ...shard.toShard(),
        status: shard.isOpen ? "OPEN" : "CLOSED",
        childShardIds: shard.children.map((c) => c.id),
        recordCount: shard.size,
        createdAt: new Date(shard.createdAt),
        closedAt: shard.closedAt === undefined ? undefined : new Date(shard.closedAt)
      }
    })
  }
}
