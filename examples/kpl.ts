/**
 * KPL aggregation: many small user records packed into few Kinesis records (the KPL's format, readable
 * by KCL and by aws-kinesis-agg), produced and consumed on an embedded local Kinesis.
 */
import { Checkpointer, Consumer, Kinesis, KinesisMetrics, Processor, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Metric, Schema, Stream } from "effect"

const COUNT = 50_000
const Reading = Schema.Struct({ sensor: Schema.String, reading: Schema.Number })
// user records aggregated per shard in the KPL format, ≤ 50 KiB per Kinesis record
const processor = Processor.schema(Reading, Processor.kplJson)

const program = Effect.gen(function*() {
  const started = Date.now()
  yield* Stream.range(1, COUNT).pipe(
    Stream.map((n) => ({ sensor: `sensor-${n % 200}`, reading: n })),
    Stream.run(Producer.sink({
      stream: "telemetry",
      createStream: { shardCount: 2 },
      processor,
      partitionKey: (r) => r.sensor
    }))
  )
  const kinesisRecords = yield* Metric.value(
    Metric.tagged(KinesisMetrics.producerKinesisRecords, "stream", "telemetry")
  )
  yield* Console.log(
    `${COUNT} user records in ${kinesisRecords.count} Kinesis records (${((Date.now() - started) / 1000).toFixed(1)} s)`
  )
  // the consumer deaggregates: one ConsumerRecord per user record, with its sub-sequence number
  const read = yield* Consumer.stream({ stream: "telemetry", processor }).pipe(
    Stream.take(COUNT),
    Stream.runFold({ count: 0, maxSub: 0 }, (acc, r) => ({
      count: acc.count + 1,
      maxSub: Math.max(acc.maxSub, r.subSequenceNumber ?? 0)
    }))
  )
  yield* Console.log(`read back ${read.count} user records (up to ${read.maxSub + 1} per aggregate)`)
})

const LocalKinesisLayer = Layer.unwrapScoped(Effect.map(LocalKinesis.kinesalite(), (local) => Kinesis.layer(local)))

program.pipe(Effect.provide(Layer.merge(LocalKinesisLayer, Checkpointer.layerMemory())), NodeRuntime.runMain)
