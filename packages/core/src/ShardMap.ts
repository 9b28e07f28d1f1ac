/**
 * Hash-key ranges of shards: which shard a record goes to. Pure.
 *
 * Kinesis routes a record by its hash key, an unsigned 128-bit integer: MD5 of the UTF-8 bytes of the
 * partition key (big-endian), or the record's ExplicitHashKey. Each open shard owns an inclusive range
 * [StartingHashKey, EndingHashKey]; together the open shards of a stream cover 0 … 2^128 − 1. A
 * producer uses a `ShardMap` to predict a record's shard (per-shard rate limits, per-shard
 * aggregation, ordering); lookups are a binary search over the sorted ranges.
 *
 * @example
 * ```ts
 * import { Kinesis, ShardMap, StreamAddress } from "@effect-kinesis/core"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const shards = yield* Kinesis.listShards({ stream: StreamAddress.unsafeMake("orders") })
 *   const map = ShardMap.make(shards)
 *   return ShardMap.shardFor(map, "customer-42").pipe(Option.map((shard) => shard.shardId))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import * as internal from "./internal/shardMap.js"
import type * as Kinesis from "./Kinesis.js"

/**
 * The largest hash key, 2^128 − 1.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HASH_KEY: bigint = internal.MAX_HASH_KEY

/**
 * The hash key of a partition key: MD5 of its UTF-8 bytes as an unsigned 128-bit integer (big-endian),
 * as Kinesis computes it.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashKey: (partitionKey: string) => bigint = internal.hashKey

/**
 * Parses a decimal hash key (an ExplicitHashKey or a range bound): `0` or digits without leading
 * zeros, at most 2^128 − 1. `None` for anything else.
 *
 * @since 0.1.0
 * @category hashing
 */
export const parseHashKey: (input: string) => Option.Option<bigint> = internal.parseHashKey

/**
 * Compares two decimal hash keys (as returned by Kinesis: no leading zeros) as numbers.
 *
 * @since 0.1.0
 * @category hashing
 */
export const compareHashKeys: (a: string, b: string) => -1 | 0 | 1 = internal.compareHashKeys

/**
 * The hash-key ranges of a stream created with `n` shards (and the targets of a uniform
 * UpdateShardCount): range `i` starts at ⌊i × 2^128 / n⌋ and ends one before the next start, exactly
 * as AWS splits the space (for 2 shards: 0 … 2^127 − 1 and 2^127 … 2^128 − 1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const uniformRanges: (n: number) => ReadonlyArray<Kinesis.HashKeyRange> = internal.uniformRanges

/**
 * The open shards of a stream, sorted by their ranges.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardMap {
  /** The open shards, sorted by StartingHashKey. */
  readonly shards: ReadonlyArray<Kinesis.Shard>
  /** The StartingHashKey of each shard of `shards`, as a number. */
  readonly starts: ReadonlyArray<bigint>
  /** The EndingHashKey of each shard of `shards`, as a number. */
  readonly ends: ReadonlyArray<bigint>
}

/**
 * Builds a map from a shard listing (e.g. `Kinesis.listShards`). Closed shards (those with an
 * EndingSequenceNumber) are left out: records go to open shards only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (shards: Iterable<Kinesis.Shard>) => ShardMap = internal.make

/**
 * The open shard whose range holds the hash key (`None` when the listing has a gap there).
 *
 * @since 0.1.0
 * @category lookups
 */
export const lookup: {
  (hashKey: bigint): (self: ShardMap) => Option.Option<Kinesis.Shard>
  (self: ShardMap, hashKey: bigint): Option.Option<Kinesis.Shard>
} = dual(2, internal.lookup)

/**
 * The index in `shards` of the shard whose range holds the hash key, −1 when none does (no allocation:
 * for hot paths).
 *
 * @since 0.1.0
 * @category lookups
 */
export const shardIndex: {
  (hashKey: bigint): (self: ShardMap) => number
  (self: ShardMap, hashKey: bigint): number
} = dual(2, internal.shardIndex)

/**
 * The shard a record goes to: by its ExplicitHashKey when given (`None` if it is not a valid hash key),
 * otherwise by MD5 of its partition key.
 *
 * @since 0.1.0
 * @category lookups
 */
export const shardFor: {
  (partitionKey: string, explicitHashKey?: string | undefined): (self: ShardMap) => Option.Option<Kinesis.Shard>
  (self: ShardMap, partitionKey: string, explicitHashKey?: string | undefined): Option.Option<Kinesis.Shard>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null,
  internal.shardFor
)

/**
 * Whether the open shards cover 0 … 2^128 − 1 exactly once (no gap, no overlap) — false for a listing
 * taken half-way through a reshard, or a filtered one.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isComplete: (self: ShardMap) => boolean = internal.isComplete
