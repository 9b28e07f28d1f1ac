/**
 * The router: which lane a record goes to. It owns the lanes (one per open shard, plus the lanes of
 * closed shards until they drain, plus one stream-wide fallback lane while no shard map is known), the
 * shard map they were made from, and the weighted table that spreads records with made-up keys over
 * the shards.
 *
 * Called by the intake (`laneFor`, once per record), by the producer's start and the response handling
 * after a reshard (`install`), and by the dispatcher (`retireDrained`, `active`). When a new map closes a
 * shard, its lane is marked draining and handed to `onClosed` (the intake re-routes what it holds).
 *
 * Invariants: a record with a key of the user's goes to the lane of the shard whose hash-key range
 * holds MD5(key) (or its explicit hash key), as Kinesis will route it; while lanes of closed shards
 * still hold records, only they may send (`active`), so records of a key never overtake each other
 * across a reshard.
 *
 * @internal
 */
import * as Option from "effect/Option"
import type * as Kinesis from "../../Kinesis.js"
import type * as Processor from "../../Processor.js"
import * as ShardMap from "../../ShardMap.js"
import * as Routing from "../shardMap.js"
import { HASH_KEYS_PER_LANE, type Lane, SPREAD_SLOTS, spreadHashKeys, spreadTable } from "./lane.js"
import { ReadyQueue } from "./readyQueue.js"
import type { Item } from "./records.js"
import { TokenBucket } from "./tokenBucket.js"

/** What lanes are made with. */
export interface LaneConfig<A> {
  readonly processor: Processor.Processor<A>
  readonly maxRecordSize: number
  readonly maxAggregateSize: number | undefined
  /** Per-shard write limits, or undefined when pacing is off. */
  readonly limits: { readonly records: number; readonly bytes: number } | undefined
}

const FALLBACK = "*"

/** @internal */
export class Router<A> {
  /** Every lane, by shard id (`*`: the fallback lane). */
  readonly lanes = new Map<string, Lane<A>>()
  /** Shards seen in responses when the map is not listed ("skip"): scales the fallback lane's limits. */
  readonly seenShards = new Set<string>()
  /** Lanes of closed shards still holding records: new lanes wait for them. */
  drainingLanes = 0
  private map: Routing.Routing | undefined
  private laneByIndex: Array<Lane<A>> = []
  /** Lanes by share of the hash space, for generated keys (see `spreadTable`). */
  private spread: Array<Lane<A>> = []
  private spreadCursor = 0
  /** Aggregates that carry their shard's explicit hash key (KPL): their user records need none. */
  readonly carriesHashKey: boolean

  constructor(
    private readonly config: LaneConfig<A>,
    private readonly createdAt: number,
    private readonly onClosed: (lane: Lane<A>, now: number) => void
  ) {
    this.carriesHashKey = config.processor.aggregator.carriesPartitionKeys
  }

  private makeLane(id: string, shard: Kinesis.Shard | undefined, scale: number, now: number): Lane<A> {
    const { limits, maxAggregateSize, maxRecordSize, processor } = this.config
    return {
      id,
      shard,
      accumulator: processor.accumulator<Item<A>>({
        maxRecordSize,
        maxAggregateSize,
        explicitHashKey: shard?.hashKeyRange.startingHashKey
      }),
      accumulatingSince: 0,
      ready: new ReadyQueue(),
      readyBytes: 0,
      readySince: Infinity,
      inFlight: false,
      recordBucket: limits ? new TokenBucket(limits.records * scale, limits.records * scale, now) : undefined,
      byteBucket: limits ? new TokenBucket(limits.bytes * scale, limits.bytes * scale, now) : undefined,
      draining: false,
      hashKeys: spreadHashKeys(shard),
      hashKeyCursor: 0
    }
  }

  /** Installs a shard listing: lanes for new shards, draining for closed ones (handed to `onClosed`). */
  install(shards: ReadonlyArray<Kinesis.Shard>, now: number): void {
    const next = Routing.make(shards)
    const open = new Set(next.shards.map((s) => s.shardId))
    const closed: Array<Lane<A>> = []
    for (const lane of this.lanes.values()) {
      if (!open.has(lane.id) && !lane.draining) {
        lane.draining = true
        this.drainingLanes++
        closed.push(lane)
      }
    }
    this.laneByIndex = next.shards.map((shard) => {
      const existing = this.lanes.get(shard.shardId)
      if (existing !== undefined) return existing
      const lane = this.makeLane(shard.shardId, shard, 1, now)
      this.lanes.set(lane.id, lane)
      return lane
    })
    this.spread = spreadTable(this.laneByIndex, next)
    this.map = next
    for (const lane of closed) this.onClosed(lane, now)
  }

  private fallbackLane(): Lane<A> {
    let lane = this.lanes.get(FALLBACK)
    if (lane === undefined) {
      // unknown shard: one lane for the stream, limited as if it had as many shards as seen so far
      const scale = Math.max(1, this.seenShards.size, this.map?.shards.length ?? 0)
      lane = this.makeLane(FALLBACK, undefined, scale, this.createdAt)
      this.lanes.set(FALLBACK, lane)
    }
    return lane
  }

  /** The lane of a record (the hot path: no allocation for a record with a short ASCII key). */
  laneFor(item: Item<A>): Lane<A> {
    const map = this.map
    const known = map !== undefined && this.laneByIndex.length > 0
    if (item.generated) {
      const lane = known ? this.spread[this.spreadCursor++ & (SPREAD_SLOTS - 1)]! : this.fallbackLane()
      // KPL: the aggregate's own key, also on each user record: KCL drops an aggregate whose user
      // records' keys (explicit, else MD5 of the partition key) fall outside the shard it was read from
      item.explicitHashKey = this.carriesHashKey
        ? lane.shard?.hashKeyRange.startingHashKey
        : lane.hashKeys[lane.hashKeyCursor++ & (HASH_KEYS_PER_LANE - 1)]
      return lane
    }
    if (map === undefined || !known) return this.fallbackLane()
    const index = item.explicitHashKey === undefined
      ? Routing.shardIndexOfPartitionKey(map, item.partitionKey)
      : ShardMap.shardIndex(map, Option.getOrElse(ShardMap.parseHashKey(item.explicitHashKey), () => -1n))
    return index < 0 ? this.fallbackLane() : this.laneByIndex[index]!
  }

  /** Drops the lanes of closed shards that have sent everything. */
  retireDrained(): void {
    if (this.drainingLanes === 0) return
    for (const lane of this.lanes.values()) {
      if (lane.draining && !lane.inFlight && lane.accumulator.pendingRecords === 0 && lane.ready.size === 0) {
        this.lanes.delete(lane.id)
        this.drainingLanes--
      }
    }
  }

  /** The lanes that may send now: only draining ones while any drains (parents before children). */
  active(): Array<Lane<A>> {
    const all = [...this.lanes.values()]
    return this.drainingLanes > 0 ? all.filter((lane) => lane.draining) : all
  }
}
