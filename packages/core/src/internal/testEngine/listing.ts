/**
 * What is there? The read-only views of streams and shards: ListShards (pages, page tokens, shard
 * filters), ListStreams, DescribeStreamSummary, and the control service's inspection of a stream's
 * shards and stored records.
 *
 * State owned: none. A ListShards page token carries its whole state (stream, incarnation, position,
 * filter, issue time: codec.ts); inspection trims records past retention, as any read does.
 * Called by: engine.ts (`listShardsPage`, `listStreams`, `describeStreamSummary`, `storedRecords`,
 * `shardInfo`); service.ts pages `listShardsPage` into one `listShards` answer.
 * Invariants: shards are listed by index (creation order); a page token lives
 * `NEXT_TOKEN_LIFETIME_MS` and serves only the stream incarnation it was issued for, with the filter
 * of the first page; streams are listed by name.
 *
 * @internal
 */
import type * as Kinesis from "../../Kinesis.js"
import { ExpiredNextToken, type ResourceNotFound } from "../../KinesisError.js"
import type * as KinesisTest from "../../KinesisTest.js"
import type * as StreamAddress from "../../StreamAddress.js"
import { type CallContext, ko, ok, type Result } from "./calls.js"
import { decodePageToken, encodePageToken, shardIndexOf } from "./codec.js"
import type { Errors } from "./errors.js"
import type { ShardState, StreamState } from "./state.js"
import type { Streams } from "./streams.js"

const NEXT_TOKEN_LIFETIME_MS = 300_000

/** One ListShards call: the first page (address, filter, start) or the next one (`nextToken`). @internal */
export interface ListShardsPageRequest {
  readonly stream: StreamAddress.StreamAddress
  readonly nextToken: string | undefined
  readonly shardFilter: Kinesis.ShardFilter | undefined
  readonly exclusiveStartShardId: string | undefined
  readonly pageSize: number | undefined
}

/** @internal */
export interface ListShardsPage {
  readonly shards: Array<Kinesis.Shard>
  readonly nextToken: string | undefined
}

/** The listings. @internal */
export class Listing {
  constructor(
    private readonly streams: Streams,
    private readonly errors: Errors,
    private readonly defaultPageSize: number
  ) {}

  listShardsPage(
    request: ListShardsPageRequest,
    now: number,
    ctx: CallContext
  ): Result<ListShardsPage, Kinesis.ListShardsError> {
    const op = "listShards"
    const label = ctx.label
    const pageSize = request.pageSize
    if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)) {
      return ko(this.errors.validation(op, label, pageSize, "maxResults", "Member must have value between 1 and 10000"))
    }
    const size = Math.min(pageSize ?? this.defaultPageSize, 1000)
    let stream: StreamState | undefined
    let after = -1
    let filter = ""
    let timestamp = 0
    if (request.nextToken !== undefined) {
      const token = decodePageToken(request.nextToken)
      if (token === undefined) return ko(this.errors.invalid(op, label, "Invalid NextToken."))
      if (now - token.issuedAt > NEXT_TOKEN_LIFETIME_MS) {
        return ko(new ExpiredNextToken({ operation: op, stream: label, message: "The NextToken has expired." }))
      }
      stream = this.streams.byIncarnation(token.stream, token.incarnation, now)
      if (stream === undefined) return ko(this.errors.notFound(op, label, token.stream))
      after = token.afterIndex
      filter = token.filter
      timestamp = token.timestamp
    } else {
      stream = this.streams.lookup(request.stream, now)
      if (stream === undefined || stream.status === "DELETING") {
        return ko(this.errors.notFound(op, label, request.stream.name))
      }
      if (stream.status === "CREATING") return ko(this.errors.notActive(op, label, stream))
      if (request.exclusiveStartShardId !== undefined) {
        const index = shardIndexOf(request.exclusiveStartShardId)
        if (index === undefined) {
          return ko(this.errors.invalid(op, label, `Invalid ExclusiveStartShardId ${request.exclusiveStartShardId}.`))
        }
        after = index
      }
      const shardFilter = request.shardFilter
      if (shardFilter !== undefined) {
        switch (shardFilter.type) {
          case "AFTER_SHARD_ID": {
            const index = shardIndexOf(shardFilter.shardId)
            if (index === undefined) {
              return ko(this.errors.invalid(op, label, `Invalid ShardId ${shardFilter.shardId}.`))
            }
            after = Math.max(after, index)
            break
          }
          case "AT_TIMESTAMP":
          case "FROM_TIMESTAMP": {
            timestamp = shardFilter.timestamp.getTime()
            if (Number.isNaN(timestamp)) return ko(this.errors.invalid(op, label, "The timestamp is not a valid date."))
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

  describeStreamSummary(
    address: StreamAddress.StreamAddress,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.StreamSummary, Kinesis.DescribeStreamSummaryError> {
    const stream = this.streams.lookup(address, now)
    if (stream === undefined) return ko(this.errors.notFound("describeStreamSummary", ctx.label, address.name))
    return ok({
      streamName: stream.name,
      streamARN: stream.arn,
      streamStatus: stream.status,
      streamMode: stream.mode,
      retentionPeriodHours: stream.retentionMs / 3_600_000,
      openShardCount: stream.open.length,
      encryptionType: "NONE",
      streamCreationTimestamp: new Date(stream.createdAt),
      consumerCount: 0
    })
  }

  listStreams(now: number, ctx: CallContext): Result<ReadonlyArray<Kinesis.StreamListing>, Kinesis.ListStreamsError> {
    const out: Array<Kinesis.StreamListing> = []
    for (const stream of this.streams.current(now)) {
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

  /** `KinesisTest.records`: the records stored in a shard, or in the whole stream in arrival order. */
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
        return ko(this.errors.shardNotFound("KinesisTest.records", stream.name, stream.name, shardId))
      }
      collect(shard, out)
    } else {
      for (const shard of stream.shards) collect(shard, out)
      out.sort((a, b) => a.counter - b.counter)
    }
    return ok(out.map((o) => o.record))
  }

  /** `KinesisTest.shards`: every shard not expired, with its status, lineage and record count. */
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
