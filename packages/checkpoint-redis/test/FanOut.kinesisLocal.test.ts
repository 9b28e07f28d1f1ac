/**
 * Enhanced fan-out end to end on real servers: kinesis-local (kinesis-mock, which implements
 * RegisterStreamConsumer and SubscribeToShard; over HTTP/1.1, the SDK's event-stream decoding) and the
 * Redis Checkpointer on the run's redis-server. 10,000 records written across a split of one of two
 * shards are read by a `fanOut` consumer: every one, once, in order per partition key, the children
 * after their parent; then the checkpoints stored in Redis let a second run read nothing again.
 */
import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
import { Consumer, Kinesis, Producer, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { inject } from "vitest"

interface Value {
  readonly k: number
  readonly i: number
}

const KEYS = 50
const TOTAL = 10_000

describe("enhanced fan-out on kinesis-local with the Redis Checkpointer", () => {
  it.live(
    "10,000 records across a split: complete, once, in order per key; the checkpoints resume",
    () =>
      Effect.gen(function*() {
        const { endpoint, region } = inject("kinesisLocal")
        const name = `fanout-${process.pid}-${Date.now().toString(36)}`
        const stream = StreamAddress.unsafeMake(name)
        const group = `fanout-group-${Date.now().toString(36)}`
        const kinesis = Kinesis.layer({
          endpoint,
          region,
          credentials: { accessKeyId: "local", secretAccessKey: "local" }
        })
        const checkpointer = RedisCheckpointer.layer({ group, redis: inject("redis").url })
        const fanOut = { consumerName: `app-${Date.now().toString(36)}` }
        const write = (from: number, to: number) =>
          Stream.range(from, to - 1).pipe(
            Stream.map((i): Value => ({ k: i % KEYS, i })),
            Stream.run(Producer.sink<Value>({ stream, shardLimits: false, partitionKey: (v) => `key-${v.k}` }))
          )
        yield* Effect.gen(function*() {
          yield* Kinesis.createStream({ streamName: name, shardCount: 2, waitUntilActive: true })
          const seen: Array<{ readonly value: Value; readonly shardId: string }> = []
          const consumer = yield* Consumer.stream<Value>({ stream, fanOut, shardRefreshInterval: "2 seconds" }).pipe(
            Stream.runForEach((r) => Effect.sync(() => seen.push({ value: r.value, shardId: r.shardId }))),
            Effect.fork
          )
          yield* write(0, TOTAL / 2)
          const port = yield* Kinesis.Kinesis
          const [parent] = yield* port.listShards({ stream })
          yield* port.splitShard({
            stream,
            shardToSplit: parent!.shardId,
            newStartingHashKey: ((BigInt(parent!.hashKeyRange.startingHashKey) +
              BigInt(parent!.hashKeyRange.endingHashKey)) / 2n).toString()
          })
          yield* Effect.sleep("1 second")
          yield* write(TOTAL / 2, TOTAL)
          for (let i = 0; i < 240 && seen.length < TOTAL; i++) yield* Effect.sleep("500 millis")
          // a little longer: anything delivered twice would show
          yield* Effect.sleep("2 seconds")
          yield* Fiber.interrupt(consumer)
          assert.strictEqual(seen.length, TOTAL, "every record, once")
          assert.strictEqual(new Set(seen.map((s) => s.value.i)).size, TOTAL)
          for (let k = 0; k < KEYS; k++) {
            const ofKey = seen.filter((s) => s.value.k === k).map((s) => s.value.i)
            assert.deepStrictEqual(ofKey, [...ofKey].sort((a, b) => a - b), `key-${k} in order`)
          }
          const shards = yield* port.listShards({ stream })
          const children = shards.filter((s) => s.parentShardId === parent!.shardId).map((s) => s.shardId)
          assert.strictEqual(children.length, 2)
          const lastOfParent = seen.map((s) => s.shardId).lastIndexOf(parent!.shardId)
          for (const child of children) {
            const first = seen.findIndex((s) => s.shardId === child)
            assert.isTrue(first < 0 || first > lastOfParent, `${child} read after its parent`)
          }
          // a second run resumes from Redis: nothing again
          const again: Array<number> = []
          const second = yield* Consumer.stream<Value>({ stream, fanOut }).pipe(
            Stream.runForEach((r) => Effect.sync(() => again.push(r.value.i))),
            Effect.fork
          )
          yield* Effect.sleep("6 seconds")
          yield* Fiber.interrupt(second)
          assert.deepStrictEqual(again, [])
          const streamARN = (yield* port.describeStreamSummary(stream)).streamARN
          yield* port.deregisterStreamConsumer({ streamARN, consumerName: fanOut.consumerName })
          yield* port.deleteStream({ stream, enforceConsumerDeletion: true })
        }).pipe(Effect.provide(Layer.merge(kinesis, checkpointer)))
      }),
    { timeout: 180_000 }
  )
})
