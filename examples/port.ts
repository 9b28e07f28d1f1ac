import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"

const stream = StreamAddress.unsafeMake("orders") // or "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
const encoder = new TextEncoder()

const program = Effect.gen(function*() {
  yield* Kinesis.createStream({ streamName: "orders", shardCount: 2, waitUntilActive: true })

  const put = yield* Kinesis.putRecords({
    stream,
    records: [
      { data: encoder.encode(`{"id":1}`), partitionKey: "customer-1" },
      { data: encoder.encode(`{"id":2}`), partitionKey: "customer-2" }
    ]
  })
  // per-record results, in request order: Success (shardId, sequenceNumber) or Failure (errorCode)
  yield* Console.log(put.records)

  for (const shard of yield* Kinesis.listShards({ stream })) {
    const iterator = yield* Kinesis.getShardIterator({
      stream,
      shardId: shard.shardId,
      position: { type: "TRIM_HORIZON" }
    })
    const { millisBehindLatest, records } = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 100 })
    yield* Console.log(shard.shardId, records.map((r) => new TextDecoder().decode(r.data)), millisBehindLatest)
  }
}).pipe(
  // every failure is a tagged error: catch throttling by its tag
  Effect.catchTag("ProvisionedThroughputExceeded", (e) => Console.error(`throttled on ${e.stream}: ${e.message}`))
)

// An embedded kinesalite here; `Kinesis.layerConfig(Kinesis.config)` reads AWS_REGION / KINESIS_ENDPOINT for AWS.
const KinesisLocal = Layer.unwrapScoped(
  Effect.map(
    LocalKinesis.kinesalite(),
    ({ credentials, endpoint, region }) => Kinesis.layer({ endpoint, region, credentials })
  )
)

program.pipe(Effect.provide(KinesisLocal), NodeRuntime.runMain)
