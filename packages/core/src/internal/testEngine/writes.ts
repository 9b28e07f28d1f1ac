/**
 * Does this PutRecords / PutRecord go in, and where? Validation of the request as AWS validates it,
 * then per record: the faults of the call, the shard's write limits, and storing the record with its
 * sequence number.
 *
 * State owned: none of its own; it appends to the records of the stream's shards (state.ts), takes
 * tokens from their write buckets (through limits.ts), uses up record faults (faults.ts) and draws from
 * the engine's PRNG for throttles.
 * Called by: engine.ts (`putRecords`, `putRecord`), once per call.
 * Invariants: the hot path — one synchronous step per call, no Effect per record, one copy of the
 * data per call into one buffer, records sliced out of it; a request that fails validation changes
 * nothing; a failed record takes no tokens and gets no sequence number; sequence numbers grow with
 * every record stored in the stream, and arrival times never go back within a shard.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Kinesis from "../../Kinesis.js"
import { fromSdkError, PUT_RECORDS_ERRORS } from "../sdkErrors.js"
import { md5Hex, parseHashKey, toHex } from "../shardMap.js"
import { type CallContext, ko, ok, type Result } from "./calls.js"
import type { Errors } from "./errors.js"
import { defaultRecordErrorMessage, type Faults } from "./faults.js"
import type { Limits } from "./limits.js"
import type { Streams } from "./streams.js"

const MAX_PARTITION_KEY_LENGTH = 256

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

/** The write path. @internal */
export class Writes {
  constructor(
    private readonly streams: Streams,
    private readonly limits: Limits,
    private readonly faults: Faults,
    private readonly errors: Errors,
    private readonly random: () => number
  ) {}

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
      return ko(this.errors.validation(
        op,
        ctx.label,
        ordering,
        "sequenceNumberForOrdering",
        "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})"
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
        PUT_RECORDS_ERRORS
      ) as Kinesis.PutRecordError
    )
  }

  put(
    op: "putRecords" | "putRecord",
    request: Kinesis.PutRecordsRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.PutRecordsResponse, Kinesis.PutRecordsError> {
    const label = ctx.label
    const stream = this.streams.dataStream(request.stream, now)
    if (stream === undefined) return ko(this.errors.notFound(op, label, request.stream.name))
    const entries = request.records
    const n = entries.length
    ctx.records = n
    const limits = this.limits.values
    if (n === 0) {
      return ko(
        this.errors.validation(op, label, "[]", "records", "Member must have length greater than or equal to 1")
      )
    }
    if (n > limits.maxRecordsPerPutRecords) {
      return ko(this.errors.validation(
        op,
        label,
        `[${n} records]`,
        "records",
        `Member must have length less than or equal to ${limits.maxRecordsPerPutRecords}`
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
        return ko(this.errors.validation(
          op,
          label,
          key.slice(0, 300),
          `records.${i + 1}.member.partitionKey`,
          `Member must have length ${
            key.length < 1 ? "greater than or equal to 1" : `less than or equal to ${MAX_PARTITION_KEY_LENGTH}`
          }`
        ))
      }
      const size = entry.data.length + utf8Length(key)
      if (size > maxRecordSize) {
        return ko(
          entry.data.length > maxRecordSize
            ? this.errors.validation(
              op,
              label,
              `java.nio.HeapByteBuffer[pos=0 lim=${entry.data.length} cap=${entry.data.length}]`,
              `records.${i + 1}.member.data`,
              `Member must have length less than or equal to ${maxRecordSize}`
            )
            : this.errors.invalid(
              op,
              label,
              `Record ${i} of ${size} bytes (data + partition key) exceeds the maximum record size of ${maxRecordSize} bytes`
            )
        )
      }
      if (entry.explicitHashKey !== undefined) {
        const explicit = parseHashKey(entry.explicitHashKey)
        if (Option.isNone(explicit)) {
          return ko(
            /^(0|[1-9]\d{0,38})$/.test(entry.explicitHashKey)
              ? this.errors.invalid(
                op,
                label,
                `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${entry.explicitHashKey}`
              )
              : this.errors.validation(
                op,
                label,
                entry.explicitHashKey,
                `records.${i + 1}.member.explicitHashKey`,
                "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
              )
          )
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
      return ko(this.errors.invalid(
        op,
        label,
        `Records size of ${total} bytes exceeds the PutRecords request limit of ${limits.maxBytesPerPutRecords} bytes`
      ))
    }

    // faults of this call
    const recordFault = this.faults.takeRecordFault(stream.name)
    const throttle = this.faults.throttleFor(stream.name)

    const limited = this.limits.writesLimited
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
            ? this.errors.rateExceeded(stream, shard)
            : defaultRecordErrorMessage(throttle.errorCode)
        }
        failed++
        continue
      }
      if (limited && !this.limits.admitWrite(shard, size, now)) {
        results[i] = {
          _tag: "Failure",
          errorCode: "ProvisionedThroughputExceededException",
          errorMessage: this.errors.rateExceeded(stream, shard)
        }
        failed++
        continue
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
      shard.notify()
      results[i] = { _tag: "Success", shardId: shard.id, sequenceNumber }
      bytes += size
    }
    ctx.bytes = bytes
    ctx.failedRecords = failed
    return ok({ failedRecordCount: failed, records: results })
  }
}
