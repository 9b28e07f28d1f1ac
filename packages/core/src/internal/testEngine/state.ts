/** @internal */
import type * as Kinesis from "../../Kinesis.js"
import { toHex } from "../shardMap.js"
import { sequenceNumber, shardIdOf } from "./codec.js"

/**
 * A token bucket refilled continuously at `rate` per second, holding at most one second's worth.
 * `tokens` may go negative (a read response overdraws the byte allowance).
 *
 * @internal
 */
export class Bucket {
  tokens: number
  at: number
  constructor(rate: number, now: number) {
    this.tokens = rate
    this.at = now
  }
  refill(rate: number, now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(rate, this.tokens + ((now - this.at) * rate) / 1000)
      this.at = now
    } else if (this.tokens > rate) {
      this.tokens = rate
    }
  }
}

/**
 * One shard: its place in the topology and its records, column by column (records `head …` are within
 * retention; the ones before `head` were trimmed and are dropped on compaction).
 *
 * @internal
 */
export class ShardState {
  readonly id: string
  readonly startHex: string
  readonly endHex: string
  readonly hashKeyRange: Kinesis.HashKeyRange
  readonly startingSequenceNumber: string
  /** The last 34 digits of this shard's sequence numbers (see codec.ts). */
  readonly seqSuffix: string
  endingSequenceNumber: string | undefined = undefined
  closedAt: number | undefined = undefined
  readonly children: Array<ShardState> = []

  head = 0
  readonly counters: Array<number> = []
  readonly arrivals: Array<number> = []
  readonly sizes: Array<number> = []
  readonly records: Array<Kinesis.KinesisRecord> = []
  lastArrival = Number.NEGATIVE_INFINITY
  lastDate: Date | undefined = undefined

  /** The subscriptions reading this shard (fanOut.ts): told of each record written and of the closing. */
  readonly subscribers = new Set<() => void>()

  writeRecords: Bucket | undefined = undefined
  writeBytes: Bucket | undefined = undefined
  readCalls: Bucket | undefined = undefined
  readBytes: Bucket | undefined = undefined
  iteratorCalls: Bucket | undefined = undefined

  constructor(
    readonly index: number,
    readonly start: bigint,
    readonly end: bigint,
    /** [ParentShardId, AdjacentParentShardId] */
    readonly parents: ReadonlyArray<string>,
    readonly createdAt: number,
    createdAtCounter: number,
    incarnation: number
  ) {
    this.id = shardIdOf(index)
    this.startHex = toHex(start)
    this.endHex = toHex(end)
    this.hashKeyRange = { startingHashKey: start.toString(), endingHashKey: end.toString() }
    this.startingSequenceNumber = sequenceNumber(createdAtCounter, index, incarnation)
    this.seqSuffix = this.startingSequenceNumber.slice(22)
  }

  /** Tells the subscriptions of this shard that it changed. */
  notify(): void {
    if (this.subscribers.size === 0) return
    for (const wake of this.subscribers) wake()
  }

  get isOpen(): boolean {
    return this.closedAt === undefined
  }

  get size(): number {
    return this.counters.length - this.head
  }

  /** The port's view of the shard. */
  toShard(): Kinesis.Shard {
    return {
      shardId: this.id,
      parentShardId: this.parents[0],
      adjacentParentShardId: this.parents[1],
      hashKeyRange: this.hashKeyRange,
      sequenceNumberRange: {
        startingSequenceNumber: this.startingSequenceNumber,
        endingSequenceNumber: this.endingSequenceNumber
      }
    }
  }

  /** Index of the first retained record whose counter is above `position` (= `counters.length` if none). */
  indexAfter(position: number): number {
    const counters = this.counters
    let lo = this.head
    let hi = counters.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (counters[mid]! <= position) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Index of the first retained record that arrived at or after `time`. */
  indexAtTime(time: number): number {
    const arrivals = this.arrivals
    let lo = this.head
    let hi = arrivals.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (arrivals[mid]! < time) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Drops the records that arrived at or before `cutoff` (they are `retention` old). */
  trim(cutoff: number): void {
    if (this.head >= this.arrivals.length || this.arrivals[this.head]! > cutoff) return
    const arrivals = this.arrivals
    let lo = this.head
    let hi = arrivals.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (arrivals[mid]! <= cutoff) lo = mid + 1
      else hi = mid
    }
    this.head = lo
    // compact once the dead prefix is large, so memory follows retention
    if (this.head > 1024 && this.head * 2 > this.counters.length) {
      const n = this.head
      this.counters.splice(0, n)
      this.arrivals.splice(0, n)
      this.sizes.splice(0, n)
      this.records.splice(0, n)
      this.head = 0
    }
  }
}

/** @internal */
export type PendingReshard = (at: number) => void

/**
 * One stream.
 *
 * @internal
 */
export class StreamState {
  status: Kinesis.StreamStatus = "ACTIVE"
  /** When CREATING / UPDATING / DELETING ends. */
  statusUntil = 0
  /** The reshard applied when UPDATING ends. */
  pending: PendingReshard | undefined = undefined
  /** Every shard not expired, by index. */
  shards: Array<ShardState> = []
  readonly byId = new Map<string, ShardState>()
  /** Open shards sorted by range, and their first hash keys (hex) for routing. */
  open: Array<ShardState> = []
  openStarts: Array<string> = []
  /** Record counter (sequence numbers). */
  counter = 0
  nextShardIndex = 0
  /** Earliest time a closed shard expires out of retention. */
  nextShardExpiry = Number.POSITIVE_INFINITY

  constructor(
    readonly name: string,
    readonly arn: string,
    readonly incarnation: number,
    readonly mode: Kinesis.StreamMode,
    readonly createdAt: number,
    public retentionMs: number,
    readonly maxRecordSize: number | undefined
  ) {}

  addShard(start: bigint, end: bigint, parents: ReadonlyArray<string>, at: number): ShardState {
    const shard = new ShardState(this.nextShardIndex++, start, end, parents, at, this.counter, this.incarnation)
    this.shards.push(shard)
    this.byId.set(shard.id, shard)
    return shard
  }

  closeShard(shard: ShardState, at: number): void {
    shard.closedAt = at
    shard.endingSequenceNumber = sequenceNumber(this.counter, shard.index, this.incarnation)
    shard.notify()
    this.nextShardExpiry = Math.min(this.nextShardExpiry, at + this.retentionMs)
  }

  /** Rebuilds the routing table after a topology change. */
  reindex(): void {
    this.open = this.shards.filter((s) => s.isOpen).sort((a, b) => (a.start < b.start ? -1 : 1))
    this.openStarts = this.open.map((s) => s.startHex)
  }

  /** The open shard owning a hash key (hex). The open shards always cover the whole key space. */
  route(hex: string): ShardState {
    const starts = this.openStarts
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid]! <= hex) lo = mid
      else hi = mid - 1
    }
    return this.open[lo]!
  }

  /** Removes closed shards whose closing (and so every record) is past retention. */
  expireShards(now: number): void {
    if (now < this.nextShardExpiry) return
    let next = Number.POSITIVE_INFINITY
    const kept: Array<ShardState> = []
    for (const shard of this.shards) {
      if (shard.closedAt !== undefined) {
        const expiry = shard.closedAt + this.retentionMs
        if (expiry <= now) {
          this.byId.delete(shard.id)
          continue
        }
        next = Math.min(next, expiry)
      }
      kept.push(shard)
    }
    this.shards = kept
    this.nextShardExpiry = next
  }
}
