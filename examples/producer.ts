import { Kinesis, Processor, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, total: Schema.Number })

const orders = Stream.range(1, 20_000).pipe(
  Stream.map((i) => ({ id: `order-${i}`, customer: `customer-${i % 100}`, total: i }))
)

const program = orders.pipe(
  Stream.run(Producer.sink({
    stream: "orders",
    createStream: { shardCount: 4 }, // idempotent; waits until ACTIVE
    processor: Processor.schemaJson(Order), // typed: a value that does not encode is an EncodeError
    partitionKey: (order) => order.customer // records of one customer stay in order
  })),
  Effect.zipRight(Console.log("20,000 orders delivered")),
  // every record not delivered after the retries is named in PutRecordsFailed
  Effect.catchTag("PutRecordsFailed", (e) => Console.error(`${e.failures.length} records not delivered`))
)

const KinesisLocal = Layer.unwrapScoped(
  Effect.map(
    LocalKinesis.kinesalite(),
    ({ credentials, endpoint, region }) => Kinesis.layer({ endpoint, region, credentials })
  )
)

program.pipe(Effect.provide(KinesisLocal), NodeRuntime.runMain)
