/** @internal */

// ---------------------------------------------------------------------------------------------
// sequence numbers
// ---------------------------------------------------------------------------------------------

/*
 * A sequence number is 56 decimal digits, like AWS's:
 *
 *   "49" + counter (20 digits) + shard index (12 digits) + stream incarnation (22 digits)
 *
 * `counter` is the stream's record counter (1, 2, 3, … across all its shards), so sequence numbers
 * increase within a shard, across a shard's lineage (children start after their parents' last
 * record) and in arrival order across the shards of a stream — and they compare as big integers
 * (same length, no leading zero). The shard index and incarnation let GetShardIterator reject a
 * sequence number that did not come from the shard.
 */

const SEQUENCE = /^49(\d{20})(\d{12})(\d{22})$/

/** @internal */
export const sequenceNumber = (counter: number, shardIndex: number, incarnation: number): string =>
  `49${counter.toString().padStart(20, "0")}${shardIndex.toString().padStart(12, "0")}${
    incarnation.toString().padStart(22, "0")
  }`

/** @internal */
export interface DecodedSequenceNumber {
  readonly counter: number
  readonly shardIndex: number
  readonly incarnation: number
}

/** @internal */
export const decodeSequenceNumber = (input: string): DecodedSequenceNumber | undefined => {
  const match = SEQUENCE.exec(input)
  if (match === null) return undefined
  return { counter: Number(match[1]), shardIndex: Number(match[2]), incarnation: Number(match[3]) }
}

/** @internal */
export const shardIdOf = (index: number): string => `shardId-${index.toString().padStart(12, "0")}`

const SHARD_ID = /^shardId-(\d{12})$/

/** @internal */
export const shardIndexOf = (shardId: string): number | undefined => {
  const match = SHARD_ID.exec(shardId)
  return match === null ? undefined : Number(match[1])
}

// ---------------------------------------------------------------------------------------------
// opaque tokens (shard iterators, ListShards NextToken)
// ---------------------------------------------------------------------------------------------

// FNV-1a, 32 bits: a checksum so that an edited or truncated token is rejected as malformed.
const fnv1a = (s: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(36)
}

const seal = (fields: ReadonlyArray<string | number>): string => {
  const body = fields.join("|")
  return Buffer.from(`${body}|${fnv1a(body)}`, "utf8").toString("base64url")
}

const INTEGER = /^\d{1,16}$/
// Clock times: TestClock time can be fractional (jittered sleeps), so any finite number.
const NUMBER = /^-?[\d.e+-]{1,32}$/

const unseal = (token: string, count: number): Array<string> | undefined => {
  if (token.length === 0 || token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined
  const text = Buffer.from(token, "base64url").toString("utf8")
  const fields = text.split("|")
  if (fields.length !== count + 1) return undefined
  const checksum = fields.pop()!
  return fnv1a(fields.join("|")) === checksum ? fields : undefined
}

const int = (s: string | undefined): number | undefined => s !== undefined && INTEGER.test(s) ? Number(s) : undefined

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || !NUMBER.test(s)) return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : undefined
}

/**
 * A shard iterator: reads the records of shard `shardIndex` whose counter is above `position`.
 *
 * @internal
 */
export interface Iterator {
  readonly stream: string
  readonly incarnation: number
  readonly shardIndex: number
  readonly position: number
  readonly issuedAt: number
}

/** @internal */
export const encodeIterator = (it: Iterator): string =>
  seal(["I", it.stream, it.incarnation, it.shardIndex, it.position, it.issuedAt])

/** @internal */
export const decodeIterator = (token: string): Iterator | undefined => {
  const f = unseal(token, 6)
  if (f === undefined || f[0] !== "I") return undefined
  const incarnation = int(f[2])
  const shardIndex = int(f[3])
  const position = int(f[4])
  const issuedAt = num(f[5])
  if (incarnation === undefined || shardIndex === undefined || position === undefined || issuedAt === undefined) {
    return undefined
  }
  return { stream: f[1]!, incarnation, shardIndex, position, issuedAt }
}

/**
 * A ListShards NextToken: the listing continues after shard `afterIndex`, with the same filter.
 *
 * @internal
 */
export interface PageToken {
  readonly stream: string
  readonly incarnation: number
  readonly afterIndex: number
  /** "" (none), AT_LATEST, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_TIMESTAMP, FROM_TIMESTAMP */
  readonly filter: string
  readonly timestamp: number
  readonly issuedAt: number
}

/** @internal */
export const encodePageToken = (t: PageToken): string =>
  seal(["P", t.stream, t.incarnation, t.afterIndex, t.filter, t.timestamp, t.issuedAt])

/** @internal */
export const decodePageToken = (token: string): PageToken | undefined => {
  const f = unseal(token, 7)
  if (f === undefined || f[0] !== "P") return undefined
  const incarnation = int(f[2])
  const afterIndex = int(f[3])
  const timestamp = num(f[5])
  const issuedAt = num(f[6])
  if (incarnation === undefined || afterIndex === undefined || timestamp === undefined || issuedAt === undefined) {
    return undefined
  }
  return { stream: f[1]!, incarnation, afterIndex, filter: f[4]!, timestamp, issuedAt }
}
