import { Checkpointer, Consumer, Kinesis, Processor, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String })
const processor = Processor.schemaJson(Order)

const produce = Stream.range(1, 10_000).pipe(
  Stream.map((id) => ({ id, customer: `customer-${id % 50}` })),
  Stream.run(Producer.sink({
    stream: "orders",
    createStream: { shardCount: 2 },
    processor,
    partitionKey: (order) => order.customer
  }))
)

const consume = Effect.gen(function*() {
  const consumer = yield* Consumer.make({ stream: "orders", processor, idleDelay: "200 millis" })
  const lastByCustomer = new Map<string, number>()
  yield* consumer.records.pipe(
    Stream.tap((record) =>
      Effect.sync(() => {
        // typed values, with where they came from; per-customer order holds across shards and reshards
        const last = lastByCustomer.get(record.value.customer) ?? 0
        if (record.value.id <= last) throw new Error(`out of order: ${record.value.id} after ${last}`)
        lastByCustomer.set(record.value.customer, record.value.id)
      })
    ),
    Stream.take(10_000),
    Stream.runDrain
  )
  const status = yield* Consumer.status(consumer)
  for (const shard of status.shards) {
    yield* Console.log(
      `${shard.shardId} ${shard.state} records=${shard.recordsDelivered} lag=${shard.millisBehindLatest}ms`
    )
  }
  yield* Console.log(`${status.totals.records} records read back, in order per customer`)
}).pipe(Effect.scoped) // closing the scope writes the final checkpoints and releases the leases

const KinesisLocal = Layer.unwrapScoped(
  Effect.map(
    LocalKinesis.kinesalite(),
    ({ credentials, endpoint, region }) => Kinesis.layer({ endpoint, region, credentials })
  )
)

Effect.zipRight(produce, consume).pipe(
  Effect.provide(Layer.merge(KinesisLocal, Checkpointer.layerMemory())),
  NodeRuntime.runMain
)
