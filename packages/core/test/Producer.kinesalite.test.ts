/**
 * End to end on a real local Kinesis: 50,000 records through `Stream.run(Producer.sink)` over 4 shards,
 * read back complete and in per-key order.
 */
import { Kinesis, Producer, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Effect, Layer, Stream } from "effect"

describe("Producer on kinesalite", () => {
  it.scopedLive("50,000 records over 4 shards arrive complete and in per-key order", () =>
    Effect.gen(function*() {
      // its own kinesalite: 50,000 records cost it ~200 MB
      const local = yield* LocalKinesis.kinesalite()
      const layer = Kinesis.layer({ endpoint: local.endpoint, region: local.region, credentials: local.credentials })
      const stream = StreamAddress.unsafeMake("e2e")
      const total = 50_000
      yield* Effect.gen(function*() {
        yield* Stream.range(0, total - 1).pipe(
          Stream.map((n) => ({ key: `key-${n % 100}`, n })),
          Stream.run(Producer.sink({
            stream: "e2e",
            createStream: { shardCount: 4 },
            partitionKey: (v) => v.key,
            shardLimits: false // kinesalite does not throttle; pacing is tested on KinesisTest
          }))
        )
        const shards = yield* Kinesis.listShards({ stream })
        assert.strictEqual(shards.length, 4)
        const last = new Map<string, number>()
        let count = 0
        for (const shard of shards) {
          let iterator: string | undefined = yield* Kinesis.getShardIterator({
            stream,
            shardId: shard.shardId,
            position: { type: "TRIM_HORIZON" }
          })
          while (iterator !== undefined) {
            const out: Kinesis.GetRecordsResponse = yield* Kinesis.getRecords({
              shardIterator: iterator,
              limit: 10_000
            })
            for (const record of out.records) {
              const { key, n } = JSON.parse(new TextDecoder().decode(record.data)) as { key: string; n: number }
              assert.isTrue((last.get(key) ?? -1) < n, `order broken for ${key}`)
              last.set(key, n)
              count++
            }
            if (out.records.length === 0) break
            iterator = out.nextShardIterator
          }
        }
        assert.strictEqual(count, total)
        assert.deepStrictEqual([...last.keys()].sort(), Arr.makeBy(100, (i) => `key-${i}`).sort())
      }).pipe(Effect.provide(Layer.fresh(layer)))
    }), 120_000)
})
