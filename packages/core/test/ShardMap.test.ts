import { type Kinesis, ShardMap } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Option } from "effect"
import * as Crypto from "node:crypto"
import * as Md5 from "../src/internal/md5.js"
import * as Routing from "../src/internal/shardMap.js"

const MAX = 2n ** 128n - 1n

const shard = (id: number, start: bigint, end: bigint, closed = false): Kinesis.Shard => ({
  shardId: `shardId-${String(id).padStart(12, "0")}`,
  hashKeyRange: { startingHashKey: start.toString(), endingHashKey: end.toString() },
  sequenceNumberRange: { startingSequenceNumber: "0", endingSequenceNumber: closed ? "1" : undefined }
})

const uniformShards = (n: number): Array<Kinesis.Shard> =>
  ShardMap.uniformRanges(n).map((r, i) => shard(i, BigInt(r.startingHashKey), BigInt(r.endingHashKey)))

// an independent reference: the MD5 digest's bytes read as a big-endian unsigned integer
const md5Reference = (key: string): bigint => {
  let n = 0n
  for (const byte of Crypto.createHash("md5").update(Buffer.from(key, "utf8")).digest()) n = (n << 8n) | BigInt(byte)
  return n
}

describe("ShardMap", () => {
  it("hashKey is MD5 of the UTF-8 partition key as an unsigned 128-bit integer", () => {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    assert.strictEqual(ShardMap.hashKey(""), 0xd41d8cd98f00b204e9800998ecf8427en)
    assert.strictEqual(ShardMap.hashKey("a"), 0x0cc175b9c0f1b6a831c399e269772661n)
    for (const key of ["key-1", "ünïcödé", "🦀 crab", "x".repeat(256)]) {
      assert.strictEqual(ShardMap.hashKey(key), md5Reference(key), key)
    }
  })

  it.prop(
    "hashKey matches the reference for any string",
    [fc.string({ maxLength: 256, unit: "grapheme" })],
    ([key]) => {
      const k = ShardMap.hashKey(key)
      return k === md5Reference(key) && k >= 0n && k <= MAX
    }
  )

  it("uniformRanges splits 0 … 2^128 − 1 at AWS's boundaries", () => {
    assert.deepStrictEqual(ShardMap.uniformRanges(1), [{ startingHashKey: "0", endingHashKey: MAX.toString() }])
    assert.deepStrictEqual(ShardMap.uniformRanges(2), [
      { startingHashKey: "0", endingHashKey: "170141183460469231731687303715884105727" },
      {
        startingHashKey: "170141183460469231731687303715884105728",
        endingHashKey: "340282366920938463463374607431768211455"
      }
    ])
    // what CreateStream with 3 shards returns on AWS
    assert.deepStrictEqual(ShardMap.uniformRanges(3), [
      { startingHashKey: "0", endingHashKey: "113427455640312821154458202477256070484" },
      {
        startingHashKey: "113427455640312821154458202477256070485",
        endingHashKey: "226854911280625642308916404954512140969"
      },
      {
        startingHashKey: "226854911280625642308916404954512140970",
        endingHashKey: "340282366920938463463374607431768211455"
      }
    ])
  })

  it.prop("uniformRanges covers the space contiguously with ranges within one key of each other", [
    fc.integer({ min: 1, max: 2000 })
  ], ([n]) => {
    const ranges = ShardMap.uniformRanges(n).map((r) => [BigInt(r.startingHashKey), BigInt(r.endingHashKey)] as const)
    assert.strictEqual(ranges.length, n)
    assert.strictEqual(ranges[0]![0], 0n)
    assert.strictEqual(ranges[n - 1]![1], MAX)
    const sizes = ranges.map(([s, e]) => e - s + 1n)
    for (let i = 1; i < n; i++) assert.strictEqual(ranges[i]![0], ranges[i - 1]![1] + 1n)
    const min = sizes.reduce((a, b) => (a < b ? a : b))
    const max = sizes.reduce((a, b) => (a > b ? a : b))
    assert.isTrue(max - min <= 1n)
  })

  it("uniformRanges rejects a count below one", () => {
    assert.throws(() => ShardMap.uniformRanges(0))
  })

  it("parseHashKey accepts AWS's decimal form only, up to 2^128 − 1", () => {
    assert.deepStrictEqual(ShardMap.parseHashKey("0"), Option.some(0n))
    assert.deepStrictEqual(ShardMap.parseHashKey(MAX.toString()), Option.some(MAX))
    for (const bad of ["", "-1", "01", "1.5", "0x10", " 1", (MAX + 1n).toString(), "1".repeat(40)]) {
      assert.isTrue(Option.isNone(ShardMap.parseHashKey(bad)), bad)
    }
  })

  it("compareHashKeys orders decimal keys as numbers", () => {
    assert.strictEqual(ShardMap.compareHashKeys("9", "10"), -1)
    assert.strictEqual(ShardMap.compareHashKeys("10", "9"), 1)
    assert.strictEqual(ShardMap.compareHashKeys("42", "42"), 0)
    const keys = ["170141183460469231731687303715884105728", "0", "99", "100", MAX.toString()]
    assert.deepStrictEqual(
      [...keys].sort(ShardMap.compareHashKeys),
      [...keys].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    )
  })

  it("make keeps the open shards sorted by range; lookup finds the owner of a key", () => {
    const [a, b, c] = uniformShards(3)
    const parent = shard(9, 0n, MAX, true)
    const map = ShardMap.make([c!, parent, a!, b!])
    assert.deepStrictEqual(map.shards.map((s) => s.shardId), [a!.shardId, b!.shardId, c!.shardId])
    assert.isTrue(ShardMap.isComplete(map))
    const at = (key: bigint) => Option.map(ShardMap.lookup(map, key), (s) => s.shardId)
    assert.deepStrictEqual(at(0n), Option.some(a!.shardId))
    assert.deepStrictEqual(at(BigInt(a!.hashKeyRange.endingHashKey)), Option.some(a!.shardId))
    assert.deepStrictEqual(at(BigInt(b!.hashKeyRange.startingHashKey)), Option.some(b!.shardId))
    assert.deepStrictEqual(at(MAX), Option.some(c!.shardId))
    // data-last
    assert.deepStrictEqual(ShardMap.shardIndex(0n)(map), 0)
  })

  it("shardFor routes by ExplicitHashKey when given, by MD5 of the partition key otherwise", () => {
    const map = ShardMap.make(uniformShards(2))
    const id = (o: Option.Option<Kinesis.Shard>) => Option.map(o, (s) => s.shardId)
    assert.deepStrictEqual(id(ShardMap.shardFor(map, "k", "0")), Option.some("shardId-000000000000"))
    assert.deepStrictEqual(
      id(ShardMap.shardFor(map, "k", (2n ** 127n).toString())),
      Option.some("shardId-000000000001")
    )
    assert.isTrue(Option.isNone(ShardMap.shardFor(map, "k", "not-a-key")))
    const expected = ShardMap.hashKey("customer-42") < 2n ** 127n ? "shardId-000000000000" : "shardId-000000000001"
    assert.deepStrictEqual(id(ShardMap.shardFor(map, "customer-42")), Option.some(expected))
    assert.deepStrictEqual(id(ShardMap.shardFor("customer-42")(map)), Option.some(expected))
  })

  it("a listing with a gap is incomplete, and a key in the gap has no shard", () => {
    const half = 2n ** 127n
    const map = ShardMap.make([shard(0, 0n, half - 2n), shard(1, half, MAX)])
    assert.isFalse(ShardMap.isComplete(map))
    assert.strictEqual(ShardMap.shardIndex(map, half - 1n), -1)
    assert.isTrue(Option.isNone(ShardMap.lookup(map, half - 1n)))
    assert.isFalse(ShardMap.isComplete(ShardMap.make([])))
  })

  it.effect.prop(
    "lookup agrees with a linear scan over random splits of the space",
    [fc.uniqueArray(fc.bigInt({ min: 1n, max: MAX }), { maxLength: 64 }), fc.array(fc.bigInt({ min: 0n, max: MAX }))],
    ([cuts, keys]) =>
      Effect.sync(() => {
        const bounds = [0n, ...[...cuts].sort((a, b) => (a < b ? -1 : 1))]
        const shards = bounds.map((start, i) => shard(i, start, i + 1 < bounds.length ? bounds[i + 1]! - 1n : MAX))
        // shuffled input
        const map = ShardMap.make([...shards].reverse())
        assert.isTrue(ShardMap.isComplete(map))
        for (const key of [...keys, 0n, MAX, ...bounds]) {
          const linear = shards.find((s) =>
            BigInt(s.hashKeyRange.startingHashKey) <= key && key <= BigInt(s.hashKeyRange.endingHashKey)
          )
          assert.strictEqual(Option.getOrUndefined(ShardMap.lookup(map, key))?.shardId, linear?.shardId)
        }
      })
  )

  describe("routing a partition key (the producer's hot path: MD5 in JavaScript, placed by its top 48 bits)", () => {
    it("MD5 of ASCII keys of every length up to 256 (one to five blocks) equals node:crypto's", () => {
      const out = new Int32Array(4)
      for (let length = 0; length <= Md5.MAX_LENGTH; length++) {
        const key = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 37 + length) % 95))).join("")
        const words = Md5.md5Ascii(key, out)
        assert.isDefined(words, `length ${length}`)
        assert.strictEqual(Md5.toBigInt(words!), md5Reference(key), `length ${length}`)
        assert.strictEqual(Md5.high48(words!), Number(md5Reference(key) >> 80n))
      }
      // not ASCII, or too long: the caller falls back to node:crypto
      assert.isUndefined(Md5.md5Ascii("ünïcödé", out))
      assert.isUndefined(Md5.md5Ascii("x".repeat(257), out))
    })

    it("places every key where the exact 128-bit comparison does, even keys tied with a boundary in their top 48 bits", () => {
      fc.assert(
        fc.property(
          fc.array(fc.string({ maxLength: 80 }), { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 9 }),
          (keys, n) => {
            const uniform = Routing.make(uniformShards(n))
            // boundaries at, just above and just below a key's own hash: its top 48 bits tie with them
            const hash = md5Reference(keys[0]!)
            const cuts = [hash - 1n, hash, hash + 1n].filter((k) => k > 0n && k < MAX)
            const tied = Routing.make(
              [0n, ...cuts].map((start, i, all) => shard(i, start, i + 1 < all.length ? all[i + 1]! - 1n : MAX))
            )
            // and a map with a gap just below the key: it routes nowhere
            const gap = Routing.make(hash > 1n ? [shard(0, 0n, hash - 2n)] : [shard(0, hash + 1n, MAX)])
            for (const map of [uniform, tied, gap]) {
              for (const key of [...keys, "ünïcödé", "x".repeat(200)]) {
                const exact = ShardMap.shardIndex(map, md5Reference(key))
                assert.strictEqual(Routing.shardIndexOfPartitionKey(map, key), exact, key)
              }
            }
          }
        )
      )
    })
  })
})
