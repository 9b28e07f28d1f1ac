/**
 * A lane: the producer's queue for one shard (or, with no shard map, for the whole stream) — its
 * accumulator, its FIFO of records ready to send, its token buckets at the shard's write limits, and
 * whether its one request is in flight. The router makes lanes and picks one per record; the intake
 * fills them; the dispatcher takes from their heads; the response handling puts failures back at the
 * head. The lane is plain state: the parts that hold it keep its invariants (one request in flight per
 * lane; failed records before anything behind them).
 *
 * @internal
 */
import type * as Kinesis from "../../Kinesis.js"
import type * as Processor from "../../Processor.js"
import * as ShardMap from "../../ShardMap.js"
import type { ReadyQueue } from "./readyQueue.js"
import type { Item, Pending } from "./records.js"
import type { TokenBucket } from "./tokenBucket.js"

export interface Lane<A> {
  readonly id: string
  readonly shard: Kinesis.Shard | undefined
  readonly accumulator: Processor.Accumulator<A, Item<A>>
  /** Clock ms when the accumulator last went from empty to non-empty. */
  accumulatingSince: number
  /** Records ready to send, in order. */
  readonly ready: ReadyQueue<Pending<A>>
  readyBytes: number
  /** Clock ms since the oldest ready record waits (−∞: retries, send as soon as allowed). */
  readySince: number
  inFlight: boolean
  readonly recordBucket: TokenBucket | undefined
  readonly byteBucket: TokenBucket | undefined
  /** A lane of a closed shard: flush and send what it holds, then go away. */
  draining: boolean
  /** Explicit hash keys spread over the shard's range, for records with generated keys. */
  readonly hashKeys: ReadonlyArray<string>
  hashKeyCursor: number
}

/** Slots a lane's emptied ready queue keeps for reuse (a request's worth and some): more are let go. */
export const KEEP_READY_SLOTS = 2048
/** Explicit hash keys per lane for generated keys (a power of two). */
export const HASH_KEYS_PER_LANE = 16
/** Slots of the weighted round-robin table that spreads generated keys over lanes (a power of two). */
export const SPREAD_SLOTS = 1024

/**
 * Explicit hash keys spread over a shard's range; for the lane of an unknown shard (no shard map),
 * over the whole hash space, so that records with the made-up key still spread over every shard.
 */
export const spreadHashKeys = (shard: Kinesis.Shard | undefined): ReadonlyArray<string> => {
  const start = shard === undefined ? 0n : BigInt(shard.hashKeyRange.startingHashKey)
  const end = shard === undefined ? ShardMap.MAX_HASH_KEY : BigInt(shard.hashKeyRange.endingHashKey)
  const width = end - start + 1n
  const n = BigInt(HASH_KEYS_PER_LANE)
  return Array.from(
    { length: HASH_KEYS_PER_LANE },
    (_, i) => (start + (width * (2n * BigInt(i) + 1n)) / (2n * n)).toString()
  )
}

/** Lanes in proportion to their shard's share of the hash space (largest remainder), interleaved. */
export const spreadTable = <L>(lanes: ReadonlyArray<L>, map: ShardMap.ShardMap): Array<L> => {
  if (lanes.length === 0) return []
  const space = Number(ShardMap.MAX_HASH_KEY) + 1
  const exact = lanes.map((_, i) => (Number(map.ends[i]! - map.starts[i]!) + 1) / space * SPREAD_SLOTS)
  const counts = exact.map((x) => Math.floor(x))
  let left = SPREAD_SLOTS - counts.reduce((a, b) => a + b, 0)
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0])
  for (let k = 0; left > 0 && k < byRemainder.length; k++, left--) counts[byRemainder[k]![1]]!++
  // interleave: slot j goes to the lane whose next due position (in units of its share) is earliest
  const table: Array<L> = []
  const next = counts.map((c) => (c > 0 ? SPREAD_SLOTS / c / 2 : Infinity))
  for (let j = 0; j < SPREAD_SLOTS; j++) {
    let best = 0
    for (let i = 1; i < next.length; i++) if (next[i]! < next[best]!) best = i
    table.push(lanes[best]!)
    next[best] = next[best]! + SPREAD_SLOTS / counts[best]!
  }
  return table
}
