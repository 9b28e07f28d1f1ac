/**
 * Quick start: put records with `Producer.sink`, read them back with `Consumer.stream`, on an embedded
 * local Kinesis. Swap the layers for `Kinesis.layerConfig(Kinesis.config)` (and a Redis/DynamoDB checkpointer)
 * to run the same code against AWS.
 */
import { Checkpointer, Consumer, Kinesis, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Stream } from "effect"

const program = Effect.gen(function*() {
  // 1,000 greetings, 2 shards, created if missing
  yield* Stream.range(1, 1000).pipe(
    Stream.map((n) => ({ hello: "world", n })),
    Stream.run(Producer.sink({ stream: "greetings", createStream: { shardCount: 2 } }))
  )
  // read them back: JSON values with shard, sequence number, partition key, arrival time
  const records = yield* Consumer.stream<{ hello: string; n: number }>({ stream: "greetings" }).pipe(
    Stream.take(1000),
    Stream.runCollect
  )
  yield* Console.log(`read ${records.length} records; the first from ${[...records][0]?.shardId}`)
})

const LocalKinesisLayer = Layer.unwrapScoped(
  Effect.map(LocalKinesis.kinesalite(), (local) => Kinesis.layer(local))
)

program.pipe(Effect.provide(Layer.merge(LocalKinesisLayer, Checkpointer.layerMemory())), NodeRuntime.runMain)
