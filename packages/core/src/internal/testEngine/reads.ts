/**
 * What does a reader get, from where? GetShardIterator (a position in a shard, as an opaque
 * iterator) and GetRecords (the records after it, within the read limits, and the next iterator or
 * the child shards at the end of a closed shard).
 *
 * State owned: none. An iterator carries its whole state (stream, incarnation, shard, position,
 * issue time: codec.ts); reads take tokens from the shard's read buckets (through limits.ts) and trim
 * the shard's records past retention.
 * Called by: engine.ts (`getShardIterator`, `getRecords`), once per call.
 * Invariants: the hot path — one synchronous step per call, the records returned are one slice of the
 * shard's records (no copy of the data); a response holds at least one record when any is there, and
 * is never cut short by the byte allowance (its bytes are taken after it is served); an iterator
 * lives `ITERATOR_LIFETIME_MS` and serves only the stream incarnation it was issued for.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import type * as Kinesis from "../../Kinesis.js"
import { ExpiredIterator, type InvalidArgument } from "../../KinesisError.js"
import { type CallContext, ko, ok, type Result, rethrow } from "./calls.js"
import { decodeSequenceNumber, encodeIterator, type Iterator, shardIdOf } from "./codec.js"
import type { Errors } from "./errors.js"
import type { Limits } from "./limits.js"
import type { ShardState, StreamState } from "./state.js"
import type { Streams } from "./streams.js"

/** @internal */
export const ITERATOR_LIFETIME_MS = 300_000

/** The read path. @internal */
export class Reads {
  constructor(
    private readonly streams: Streams,
    private readonly limits: Limits,
    private readonly errors: Errors
  ) {}

  getShardIterator(
    request: Kinesis.GetShardIteratorRequest,
    now: number,
    ctx: CallContext
  ): Result<string, Kinesis.GetShardIteratorError> {
    const op = "getShardIterator"
    const label = ctx.label
    const stream = this.streams.dataStream(request.stream, now)
    if (stream === undefined) return ko(this.errors.notFound(op, label, request.stream.name))
    const shard = stream.byId.get(request.shardId)
    if (shard === undefined) return ko(this.errors.shardNotFound(op, label, stream.name, request.shardId))
    ctx.shardId = shard.id
    if (!this.limits.admitIteratorCall(shard, now)) return ko(this.errors.throttled(op, label, stream, shard))
    shard.trim(now - stream.retentionMs)
    const at = this.positionOf(op, label, stream, shard, request.position)
    if (Exit.isFailure(at)) return rethrow(at)
    return ok(encodeIterator({
      stream: stream.name,
      incarnation: stream.incarnation,
      shardIndex: shard.index,
      position: at.value,
      issuedAt: now
    }))
  }

  /**
   * The record counter a starting position stands for in `shard`: reading starts with the first record
   * above it (GetShardIterator; SubscribeToShard, fanOut.ts).
   */
  positionOf(
    op: string,
    label: string | undefined,
    stream: StreamState,
    shard: ShardState,
    position: Kinesis.StartingPosition
  ): Result<number, InvalidArgument> {
    switch (position.type) {
      case "TRIM_HORIZON":
        return ok(0)
      case "LATEST":
        return ok(stream.counter)
      case "AT_SEQUENCE_NUMBER":
      case "AFTER_SEQUENCE_NUMBER": {
        const decoded = decodeSequenceNumber(position.sequenceNumber)
        const where =
          `StartingSequenceNumber ${position.sequenceNumber} used in ${op} on shard ${shard.id} in stream ${stream.name} under account ${this.errors.accountId}`
        if (decoded === undefined) {
          return ko(this.errors.invalid(op, label, `${where} is invalid.`))
        }
        if (decoded.shardIndex !== shard.index || decoded.incarnation !== stream.incarnation) {
          return ko(this.errors.invalid(op, label, `${where} is invalid because it did not come from this stream.`))
        }
        return ok(position.type === "AT_SEQUENCE_NUMBER" ? decoded.counter - 1 : decoded.counter)
      }
      case "AT_TIMESTAMP": {
        const time = position.timestamp.getTime()
        if (Number.isNaN(time)) return ko(this.errors.invalid(op, label, "The timestamp is not a valid date."))
        const index = shard.indexAtTime(time)
        return ok(index < shard.counters.length ? shard.counters[index]! - 1 : stream.counter)
      }
    }
  }

  getRecords(
    request: Kinesis.GetRecordsRequest,
    iterator: Iterator | undefined,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.GetRecordsResponse, Kinesis.GetRecordsError> {
    const op = "getRecords"
    const label = ctx.label
    const limits = this.limits.values
    if (iterator === undefined) return ko(this.errors.invalid(op, label, "Invalid ShardIterator."))
    const limit = request.limit ?? limits.maxRecordsPerGetRecords
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxRecordsPerGetRecords) {
      return ko(this.errors.validation(
        op,
        label,
        limit,
        "limit",
        `Member must have value ${
          limit < 1 ? "greater than or equal to 1" : `less than or equal to ${limits.maxRecordsPerGetRecords}`
        }`
      ))
    }
    if (request.stream !== undefined && request.stream.name !== iterator.stream) {
      return ko(this.errors.invalid(op, label, `The shard iterator does not belong to stream ${request.stream.name}.`))
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
    const stream = this.streams.byIncarnation(iterator.stream, iterator.incarnation, now)
    if (stream === undefined || !(stream.status === "ACTIVE" || stream.status === "UPDATING")) {
      return ko(this.errors.notFound(op, label, iterator.stream))
    }
    if (request.stream?._tag === "StreamArn" && request.stream.arn !== stream.arn) {
      return ko(this.errors.notFound(op, label, iterator.stream))
    }
    const shardId = shardIdOf(iterator.shardIndex)
    const shard = stream.byId.get(shardId)
    if (shard === undefined) return ko(this.errors.shardNotFound(op, label, stream.name, shardId))
    ctx.shardId = shard.id
    if (!this.limits.admitRead(shard, now)) return ko(this.errors.throttled(op, label, stream, shard))

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
    this.limits.chargeRead(shard, bytes)
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
}
