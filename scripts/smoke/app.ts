// A user's TypeScript, typechecked (never run) by the user's own strict `tsc` against the installed
// packages' declaration files only (skipLibCheck: false; see tsconfig.json beside it): producer,
// consumer, both checkpointers, both metrics exporters and the test helpers.
import { DynamoDbCheckpointer } from "@effect-kinesis/checkpoint-dynamodb"
import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
import {
  Checkpointer,
  Consumer,
  Kinesis,
  type KinesisError,
  KinesisTest,
  Processor,
  Producer,
  StreamAddress
} from "@effect-kinesis/core"
import * as CheckpointerSuite from "@effect-kinesis/core/testing/CheckpointerSuite"
import * as GroupSuite from "@effect-kinesis/core/testing/GroupSuite"
import * as Pipeline from "@effect-kinesis/core/testing/Pipeline"
import { LocalKinesis } from "@effect-kinesis/local"
import { CloudWatchMetrics, PrometheusMetrics } from "@effect-kinesis/metrics"
import { Config, Console, Effect, Layer, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, total: Schema.Number })
type Order = typeof Order.Type

const processor: Processor.Processor<Order> = Processor.schemaJson(Order)

// produce: a Stream of typed values into the stream, failures caught by tag
export const produce = (orders: Stream.Stream<Order>) =>
  orders.pipe(
    Stream.run(Producer.sink({ stream: "orders", processor, partitionKey: (order) => order.customer })),
    Effect.catchTag("PutRecordsFailed", (error) => Console.error(`${error.failures.length} orders not delivered`)),
    Effect.catchTag("EncodeError", (error) => Console.error(error.message))
  )

// consume: typed records with their shard and sequence number
export const consume = Consumer.stream({ stream: "orders", processor }).pipe(
  Stream.runForEach((record) =>
    Console.log(record.shardId, record.sequenceNumber, record.partitionKey, record.value.total.toFixed(2))
  )
)

// the port, with throttling caught by its tag
export const put: Effect.Effect<
  void,
  Exclude<Kinesis.PutRecordsError, KinesisError.ProvisionedThroughputExceeded>,
  Kinesis.Kinesis
> = Kinesis.putRecords({
  stream: StreamAddress.unsafeMake("orders"),
  records: [{ data: new TextEncoder().encode("{}"), partitionKey: "k" }]
}).pipe(
  Effect.catchTag("ProvisionedThroughputExceeded", (error) => Console.error(error.message)),
  Effect.asVoid
)

// checkpointers: Redis and DynamoDB
export const redis: Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError> = RedisCheckpointer.layer({
  group: "billing",
  redis: "redis://127.0.0.1:6379"
})
export const dynamo = DynamoDbCheckpointer.layer({ group: "billing", table: "kinesis-leases", createTable: true })

// the same from Config: the standard environment variables, or one Config per option
export const kinesisFromEnv = Kinesis.layerConfig(Kinesis.config)
export const redisFromConfig = RedisCheckpointer.layerConfig({
  group: Config.succeed("billing"),
  redis: Config.string("REDIS_URL"),
  password: Config.redacted("REDIS_PASSWORD")
})
export const dynamoFromEnv = DynamoDbCheckpointer.layerConfig(DynamoDbCheckpointer.config)

// metrics: a Prometheus endpoint and CloudWatch
export const prometheus = PrometheusMetrics.layer({ port: 9464 })
export const cloudWatch = CloudWatchMetrics.layer({ namespace: "Orders", region: "eu-west-1" })

// the whole application
export const main = Effect.all([produce(Stream.make({ id: 1, customer: "c", total: 9.5 })), consume], {
  concurrency: 2
}).pipe(
  Effect.provide(Layer.mergeAll(Kinesis.layer({ region: "eu-west-1" }), redis, prometheus))
)

// test helpers: a pipeline on the in-memory engine, on the TestClock
export const pipelineTest: Effect.Effect<number, unknown> = Pipeline.withClock(
  Effect.gen(function*() {
    yield* produce(Stream.make({ id: 1, customer: "c", total: 1 }))
    const read = yield* Consumer.stream({ stream: "orders", processor }).pipe(Stream.take(1), Stream.runCollect)
    return read.length
  })
).pipe(Effect.provide(Pipeline.layer({ streams: { orders: { shards: 2 } } })))

export const engine = KinesisTest.layer({ streams: { orders: { shards: 4 } } })

// the conformance suites a checkpointer implementation runs
export const registerSuites = (): void => {
  CheckpointerSuite.run("my checkpointer", {
    makeWorker: ({ sessionTimeout, workerId }) => Checkpointer.makeMemory({ workerId, sessionTimeout })
  })
  GroupSuite.run("my group", {
    workerScript: "./worker.js",
    kinesalite: { endpoint: "http://127.0.0.1:4567", region: "us-east-1" },
    env: ({ group }) => ({ GROUP: group })
  })
}

// the local servers, as Effects and as Promises
export const local = LocalKinesis.kinesalite()
export const started: Promise<LocalKinesis.KinesaliteHandle> = LocalKinesis.startKinesalite()
