/**
 * A typed pipeline: Schema-encoded orders, a producer that rides out throttling (30 % of records
 * refused at random by the in-memory Kinesis), typed failures handled by tag, and a direct port call
 * whose `ProvisionedThroughputExceeded` is caught with `Effect.catchTag`. The retries take a while
 * (about half a minute): a progress line every 3 s reads the producer's metrics.
 */
import { Kinesis, KinesisMetrics, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Metric, Schema, Stream } from "effect"

const Order = Schema.Struct({
  id: Schema.String,
  customer: Schema.String,
  total: Schema.Number.pipe(Schema.nonNegative())
})

const ORDERS = 5_000
const orders = Stream.range(1, ORDERS).pipe(
  Stream.map((i) => ({ id: `order-${i}`, customer: `customer-${i % 100}`, total: i / 10 }))
)

const program = Effect.gen(function*() {
  // the test engine refuses 30 % of records with ProvisionedThroughputExceededException
  yield* KinesisTest.throttleRecords({ fraction: 0.3 })

  const delivered = Metric.tagged(KinesisMetrics.producerRecords, "stream", "orders")
  const throttledRecords = Metric.tagged(KinesisMetrics.producerThrottledRecords, "stream", "orders")
  const progress = Effect.gen(function*() {
    const sent = (yield* Metric.value(delivered)).count
    const refused = (yield* Metric.value(throttledRecords)).count
    yield* Console.log(`… ${sent} of ${ORDERS} orders delivered, ${refused} throttled records retried so far`)
  })
  yield* Console.log(`producing ${ORDERS} orders; 30 % of records are throttled and retried`)
  const ticker = yield* Effect.fork(Effect.forever(Effect.delay(progress, "3 seconds")))

  yield* orders.pipe(
    Stream.run(Producer.sink({
      stream: "orders",
      processor: Processor.schemaJson(Order), // a negative total would be an EncodeError, typed
      partitionKey: (order) => order.customer,
      shardLimits: false
    })),
    Effect.catchTags({
      // records still refused after every retry: each is named, with its last error code
      PutRecordsFailed: (e) => Console.error(`${e.failures.length} records not delivered`),
      EncodeError: (e) => Console.error(`bad order: ${e.message}`)
    })
  )
  yield* Fiber.interrupt(ticker)
  const throttled = yield* Metric.value(throttledRecords)
  const stored = yield* KinesisTest.records("orders")
  yield* Console.log(`${stored.length} orders delivered; ${throttled.count} throttled records were retried`)

  // a direct port call: throttling is a typed error you handle by tag
  yield* KinesisTest.clearFaults
  yield* KinesisTest.failNext("putRecords", { error: "ProvisionedThroughputExceeded" })
  const result = yield* Kinesis.putRecords({
    stream: StreamAddress.unsafeMake("orders"),
    records: [{ data: new TextEncoder().encode("{}"), partitionKey: "k" }]
  }).pipe(
    Effect.map(() => "accepted"),
    Effect.catchTag("ProvisionedThroughputExceeded", (e) => Effect.succeed(`throttled (${e.operation}): back off`))
  )
  yield* Console.log(`direct putRecords: ${result}`)
})

program.pipe(
  Effect.provide(KinesisTest.layer({ streams: { orders: { shards: 4 } }, seed: 42 })),
  NodeRuntime.runMain
)
