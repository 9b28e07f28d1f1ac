/**
 * End to end on a real local Kinesis (the run's shared kinesalite): records produced with
 * `Producer.sink` over 2 shards are consumed with `Consumer.stream` while one shard is split and then
 * two adjacent open shards are merged, with more records produced after each reshard. Every record
 * must arrive (at least once), and the first deliveries of each partition key must keep the order the
 * key's records were produced in, across parent → child.
 */
import { Checkpointer, Consumer, Kinesis, Producer, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Deferred, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { freshStreamName, kinesaliteLayer } from "./utils/servers.js"

interface Value {
  readonly key: string
  readonly n: number
}

const KEYS = 100
const PHASES = [20_000, 5_000, 5_000] as const
const TOTAL = PHASES.reduce((a, b) => a + b, 0)

/** The open shards, in hash-key order. */
const openShards = (stream: StreamAddress.StreamAddress) =>
  Effect.map(Kinesis.listShards({ stream }), (shards) =>
    shards
      .filter((s) => s.sequenceNumberRange.endingSequenceNumber === undefined)
      .sort((a, b) => {
        const x = BigInt(a.hashKeyRange.startingHashKey)
        const y = BigInt(b.hashKeyRange.startingHashKey)
        return x < y ? -1 : x > y ? 1 : 0
      }))

describe("Consumer on kinesalite", () => {
  it.scopedLive(
    "records survive a split and a merge while consuming: complete, per-key order kept",
    () =>
      Effect.gen(function*() {
        const name = freshStreamName("consumer-e2e")
        const stream = StreamAddress.unsafeMake(name)
        yield* Kinesis.createStream({ streamName: name, shardCount: 2, waitUntilActive: true })

        // what was produced, and what the consumer has delivered
        const counters = new Map<string, number>()
        const next = (i: number): Value => {
          const key = `key-${i % KEYS}`
          const n = (counters.get(key) ?? -1) + 1
          counters.set(key, n)
          return { key, n }
        }
        const produce = (count: number) =>
          Stream.fromIterable(Arr.makeBy(count, next)).pipe(
            Stream.run(Producer.sink({
              stream: name,
              partitionKey: (v: Value) => v.key,
              shardLimits: false // kinesalite does not throttle
            }))
          )
        const seen = new Set<string>()
        const lastFirst = new Map<string, number>()
        const orderBroken: Array<string> = []
        const byShard = new Map<string, number>()
        let deliveries = 0
        const waiters: Array<{ readonly count: number; readonly deferred: Deferred.Deferred<void> }> = []
        /** Succeeds once the consumer has delivered `count` distinct records. */
        const seenAtLeast = (count: number) =>
          Effect.gen(function*() {
            const deferred = yield* Deferred.make<void>()
            if (seen.size >= count) return
            waiters.push({ count, deferred })
            yield* Deferred.await(deferred)
          })

        const started = Date.now()
        // the first records are written before the consumer starts, so that it is behind when the split comes
        yield* produce(PHASES[0])
        const consumer = yield* Consumer.stream<Value>({
          stream: name,
          shardRefreshInterval: "1 second",
          idleDelay: "200 millis",
          // small reads (kinesalite reports MillisBehindLatest 0, so every read is followed by idleDelay) keep
          // the consumer behind: the reshards happen mid-stream
          recordLimit: 1_000,
          checkpointInterval: "500 millis"
        }).pipe(
          Stream.runForEachChunk((chunk) =>
            Effect.sync(() => {
              for (const record of chunk) {
                deliveries++
                const { key, n } = record.value
                const id = `${key}/${n}`
                if (seen.has(id)) continue
                seen.add(id)
                byShard.set(record.shardId, (byShard.get(record.shardId) ?? 0) + 1)
                const before = lastFirst.get(key) ?? -1
                if (n <= before && orderBroken.length < 20) {
                  orderBroken.push(`${key}: ${n} first delivered after ${before} (shard ${record.shardId})`)
                }
                lastFirst.set(key, Math.max(before, n))
              }
              for (let i = waiters.length - 1; i >= 0; i--) {
                if (seen.size >= waiters[i]!.count) {
                  Deferred.unsafeDone(waiters[i]!.deferred, Effect.void)
                  waiters.splice(i, 1)
                }
              }
            })
          ),
          Effect.raceFirst(seenAtLeast(TOTAL)),
          Effect.fork
        )

        // split while the consumer is still reading the parents
        yield* seenAtLeast(2_000)
        const seenAtSplit = seen.size
        const [toSplit] = yield* openShards(stream)
        const lower = BigInt(toSplit!.hashKeyRange.startingHashKey)
        const upper = BigInt(toSplit!.hashKeyRange.endingHashKey)
        yield* Kinesis.splitShard({
          stream,
          shardToSplit: toSplit!.shardId,
          newStartingHashKey: ((lower + upper + 1n) / 2n).toString(),
          waitUntilActive: true
        })
        yield* produce(PHASES[1])
        // merge the split's upper child with the next open shard (two parents: one a child, one an original)
        yield* seenAtLeast(PHASES[0] + PHASES[1] / 2)
        const seenAtMerge = seen.size
        const open = yield* openShards(stream)
        const pair = open.findIndex((s, i) =>
          i + 1 < open.length &&
          BigInt(s.hashKeyRange.endingHashKey) + 1n === BigInt(open[i + 1]!.hashKeyRange.startingHashKey) &&
          s.parentShardId === toSplit!.shardId
        )
        assert.isAtLeast(pair, 0, "an open child of the split with an adjacent open shard above it")
        yield* Kinesis.mergeShards({
          stream,
          shardToMerge: open[pair]!.shardId,
          adjacentShardToMerge: open[pair + 1]!.shardId,
          waitUntilActive: true
        })
        yield* produce(PHASES[2])

        yield* Fiber.join(consumer).pipe(
          Effect.timeoutFail({
            duration: Duration.seconds(45),
            onTimeout: () => new Error(`timed out with ${seen.size} of ${TOTAL} records seen`)
          })
        )
        const seconds = (Date.now() - started) / 1000

        const shards = yield* Kinesis.listShards({ stream })
        assert.isBelow(seenAtSplit, PHASES[0], "the split happened while the parents still had records to read")
        assert.strictEqual(shards.length, 5, "2 originals, 2 split children, 1 merged child")
        assert.deepStrictEqual(orderBroken, [])
        assert.strictEqual(seen.size, TOTAL)
        for (let k = 0; k < KEYS; k++) {
          const key = `key-${k}`
          assert.strictEqual(lastFirst.get(key), counters.get(key), `every record of ${key} delivered`)
        }
        // every shard, parents and children, delivered records
        assert.deepStrictEqual([...byShard.keys()].sort(), shards.map((s) => s.shardId).sort())
        yield* Effect.log(
          `consumed ${TOTAL} records (${deliveries} deliveries) across ${shards.length} shards in ${
            seconds.toFixed(1)
          } s; seen at split ${seenAtSplit}, at merge ${seenAtMerge}; per shard ${JSON.stringify([...byShard])}`
        )
      }).pipe(Effect.provide(Layer.merge(Layer.fresh(kinesaliteLayer()), Checkpointer.layerMemory()))),
    60_000
  )
})
