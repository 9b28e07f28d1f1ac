/** @internal */
import * as Option from "effect/Option"
import * as Crypto from "node:crypto"
import type * as Kinesis from "../Kinesis.js"
import * as Md5 from "./md5.js"

/** @internal */
export const MAX_HASH_KEY: bigint = (1n << 128n) - 1n

/** @internal */
export const HASH_SPACE: bigint = 1n << 128n

// `crypto.hash` (Node ≥ 20.12) is a one-shot digest about twice as fast as `createHash`.
const oneShot: ((algorithm: string, data: string, encoding: "hex") => string) | undefined =
  typeof Crypto.hash === "function" ? Crypto.hash : undefined

/**
 * MD5 of the UTF-8 bytes of the partition key, as 32 lower-case hex digits: the 128-bit hash key
 * in big-endian order. Equal-length hex strings compare like the numbers they denote.
 *
 * @internal
 */
export const md5Hex = (partitionKey: string): string =>
  oneShot !== undefined
    ? oneShot("md5", partitionKey, "hex")
    : Crypto.createHash("md5").update(partitionKey, "utf8").digest("hex")

/** @internal */
export const hashKey = (partitionKey: string): bigint => BigInt(`0x${md5Hex(partitionKey)}`)

/** A 128-bit key as 32 hex digits (for fast string comparison). @internal */
export const toHex = (key: bigint): string => key.toString(16).padStart(32, "0")

// AWS's pattern for hash keys: `0|([1-9]\d{0,38})`.
const DECIMAL = /^(0|[1-9]\d{0,38})$/

/** @internal */
export const parseHashKey = (input: string): Option.Option<bigint> => {
  if (!DECIMAL.test(input)) return Option.none()
  const key = BigInt(input)
  return key <= MAX_HASH_KEY ? Option.some(key) : Option.none()
}

/** @internal */
export const compareHashKeys = (a: string, b: string): -1 | 0 | 1 => {
  // decimal strings without leading zeros: the longer one is the larger number
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The first hash key of range `i` when AWS splits 0 … 2^128 − 1 evenly into `n` ranges:
 * ⌊i × 2^128 / n⌋ (for 2 shards the second starts at 2^127; for 3 at 113427455640312821154458202477256070485).
 *
 * @internal
 */
export const uniformStart = (i: number, n: number): bigint => (BigInt(i) * HASH_SPACE) / BigInt(n)

/** @internal */
export const uniformRangesBigInt = (n: number): Array<{ readonly start: bigint; readonly end: bigint }> => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`A stream has at least one shard, got ${n}`)
  const ranges: Array<{ start: bigint; end: bigint }> = []
  for (let i = 0; i < n; i++) {
    ranges.push({ start: uniformStart(i, n), end: uniformStart(i + 1, n) - 1n })
  }
  return ranges
}

/** @internal */
export const uniformRanges = (n: number): Array<Kinesis.HashKeyRange> =>
  uniformRangesBigInt(n).map((r) => ({ startingHashKey: r.start.toString(), endingHashKey: r.end.toString() }))

/** @internal */
export interface ShardMap {
  readonly shards: ReadonlyArray<Kinesis.Shard>
  readonly starts: ReadonlyArray<bigint>
  readonly ends: ReadonlyArray<bigint>
}

/** A map as `make` builds it, with what `shardIndexOfPartitionKey` places most keys by. @internal */
export interface Routing extends ShardMap {
  /** The top 48 bits of each start and end, as numbers. */
  readonly startsHigh: Float64Array
  readonly endsHigh: Float64Array
}

const high48 = (key: bigint): number => Number(key >> 80n)

/** @internal */
export const make = (shards: Iterable<Kinesis.Shard>): Routing => {
  const open: Array<{ shard: Kinesis.Shard; start: bigint; end: bigint }> = []
  for (const shard of shards) {
    if (shard.sequenceNumberRange.endingSequenceNumber !== undefined) continue
    open.push({
      shard,
      start: BigInt(shard.hashKeyRange.startingHashKey),
      end: BigInt(shard.hashKeyRange.endingHashKey)
    })
  }
  open.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
  return {
    shards: open.map((o) => o.shard),
    starts: open.map((o) => o.start),
    ends: open.map((o) => o.end),
    startsHigh: Float64Array.from(open, (o) => high48(o.start)),
    endsHigh: Float64Array.from(open, (o) => high48(o.end))
  }
}

const digest = new Int32Array(4)

/**
 * Index in `map.shards` of the shard a partition key routes to (by the MD5 of its UTF-8 bytes), −1 when
 * no shard's range holds it: the producer's per-record routing. For short ASCII keys the hash is computed
 * in JavaScript and placed by its top 48 bits, with no string or `BigInt` made; only a key whose top 48
 * bits equal a boundary's (one in 2^48 for random boundaries; often for AWS's even splits into a power of
 * two, whose boundaries end in zeros) is compared in full.
 *
 * @internal
 */
export const shardIndexOfPartitionKey = (map: Routing, partitionKey: string): number => {
  const words = Md5.md5Ascii(partitionKey, digest)
  if (words === undefined) return shardIndex(map, hashKey(partitionKey))
  const high = Md5.high48(words)
  const starts = map.startsHigh
  let lo = 0
  let hi = starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (starts[mid]! <= high) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  if (found < 0) return -1
  const end = map.endsHigh[found]!
  // a tie with the start or end found: the lower 80 bits decide
  if (starts[found] === high || end === high) return shardIndex(map, Md5.toBigInt(words))
  return high < end ? found : -1
}

/** Index in `map.shards` of the shard whose range holds the key, −1 when none does. @internal */
export const shardIndex = (map: ShardMap, key: bigint): number => {
  const starts = map.starts
  // last range whose start is ≤ key
  let lo = 0
  let hi = starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (starts[mid]! <= key) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found >= 0 && key <= map.ends[found]! ? found : -1
}

/** @internal */
export const lookup = (map: ShardMap, key: bigint): Option.Option<Kinesis.Shard> => {
  const i = shardIndex(map, key)
  return i < 0 ? Option.none() : Option.some(map.shards[i]!)
}

/** @internal */
export const shardFor = (
  map: ShardMap,
  partitionKey: string,
  explicitHashKey?: string | undefined
): Option.Option<Kinesis.Shard> => {
  if (explicitHashKey === undefined) return lookup(map, hashKey(partitionKey))
  return Option.flatMap(parseHashKey(explicitHashKey), (key) => lookup(map, key))
}

/** @internal */
export const isComplete = (map: ShardMap): boolean => {
  if (map.starts.length === 0 || map.starts[0] !== 0n) return false
  for (let i = 1; i < map.starts.length; i++) {
    if (map.starts[i] !== map.ends[i - 1]! + 1n) return false
  }
  return map.ends[map.ends.length - 1] === MAX_HASH_KEY
}
