/**
 * Enhanced fan-out: two applications read the same stream, each as its own registered consumer (its
 * own 2 MiB/s per shard, records pushed as they arrive instead of polled); each sees every order, in
 * order per customer; the consumers are deregistered at the end. Runs on an embedded kinesis-local
 * (kinesalite has no SubscribeToShard).
 */
import { Checkpointer, Consumer, Kinesis, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, sentAt: Schema.Number })
const processor = Processor.schemaJson(Order)
const ORDERS = 2_000
const orders = StreamAddress.unsafeMake("orders")

/** One application: reads every order through its own fan-out consumer, until it has them all. */
const application = (consumerName: string) =>
  Consumer.stream({ stream: "orders", processor, fanOut: { consumerName } }).pipe(
    Stream.take(ORDERS),
    Stream.runFold({ count: 0, lag: 0, inOrder: true, last: new Map<string, number>() }, (acc, record) => {
      const previous = acc.last.get(record.value.customer) ?? 0
      acc.last.set(record.value.customer, record.value.id)
      return {
        ...acc,
        count: acc.count + 1,
        lag: acc.lag + (Date.now() - record.value.sentAt),
        inOrder: acc.inOrder && record.value.id > previous
      }
    }),
    Effect.tap((r) =>
      Console.log(
        `${consumerName}: ${r.count} orders, in order per customer: ${r.inOrder}, ` +
          `mean put→receive ${(r.lag / r.count).toFixed(0)} ms`
      )
    ),
    // each application keeps its own checkpoints (here in memory)
    Effect.provide(Checkpointer.layerMemory())
  )

const program = Effect.gen(function*() {
  yield* Kinesis.createStream({ streamName: "orders", shardCount: 2, waitUntilActive: true })
  // both applications start (registering their consumers, waiting until ACTIVE), then the orders are written
  const readers = yield* Effect.fork(
    Effect.all([application("billing"), application("analytics")], { concurrency: "unbounded" })
  )
  yield* Effect.sleep("3 seconds")
  yield* Stream.range(1, ORDERS).pipe(
    Stream.map((id) => ({ id, customer: `customer-${id % 50}`, sentAt: Date.now() })),
    Stream.run(Producer.sink({ stream: "orders", processor, partitionKey: (order) => order.customer }))
  )
  yield* readers.await
  for (const c of yield* Kinesis.listStreamConsumers(orders)) {
    yield* Console.log(`registered: ${c.consumerName} (${c.consumerStatus})`)
  }
  // a registered consumer costs money while it exists: remove it when the application is retired
  yield* Kinesis.deregisterStreamConsumer({ stream: orders, consumerName: "billing" })
  yield* Kinesis.deregisterStreamConsumer({ stream: orders, consumerName: "analytics" })
  yield* Console.log("both consumers deregistered")
})

const KinesisLocal = Layer.unwrapScoped(
  Effect.map(
    LocalKinesis.kinesisLocal(),
    ({ credentials, endpoint, region }) => Kinesis.layer({ endpoint, region, credentials })
  )
)

program.pipe(Effect.provide(KinesisLocal), NodeRuntime.runMain)
