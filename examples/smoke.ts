/**
 * `pnpm demo` (for now): the Kinesis port end to end on an embedded local Kinesis, no AWS account.
 *
 * Starts kinesalite in this process on 127.0.0.1, creates a 2-shard stream, puts 5,000 records with
 * PutRecords (500 per call), reads every shard back from TRIM_HORIZON, and checks that what was read
 * is what was written. Exits non-zero with a clear message otherwise.
 *
 * Against real AWS: set AWS_REGION (and credentials as usual) and KINESIS_STREAM to an existing stream;
 * `KINESIS_ENDPOINT` points the same program at any other endpoint.
 */
import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option } from "effect"

const RECORDS = 5_000
const BATCH = 500

const program = Effect.gen(function*() {
  const existing = yield* Config.option(Config.string("KINESIS_STREAM"))
  const name = Option.getOrElse(existing, () => `demo-${Date.now().toString(36)}`)
  const stream = StreamAddress.unsafeMake(name)
  if (Option.isNone(existing)) {
    yield* Kinesis.createStream({ streamName: name, shardCount: 2, waitUntilActive: true })
    yield* Console.log(`created stream ${name} with 2 shards`)
  }
  const shards = yield* Kinesis.listShards({ stream, shardFilter: { type: "AT_LATEST" } })

  // remember where each shard ends now, so a pre-existing stream is read from here on
  const start = yield* Effect.forEach(
    shards,
    (shard) => Kinesis.getShardIterator({ stream, shardId: shard.shardId, position: { type: "LATEST" } })
  )

  const encoder = new TextEncoder()
  const started = Date.now()
  let throttled = 0
  for (let offset = 0; offset < RECORDS; offset += BATCH) {
    let pending = Array.from({ length: BATCH }, (_, i) => ({
      data: encoder.encode(JSON.stringify({ n: offset + i, at: new Date().toISOString() })),
      partitionKey: `key-${(offset + i) % 64}`
    }))
    // resend what the service refused (per-record throttling), backing off on whole-request throttling
    while (pending.length > 0) {
      const result = yield* Kinesis.putRecords({ stream, records: pending }).pipe(
        Effect.catchTag("ProvisionedThroughputExceeded", () =>
          Effect.as(Effect.sleep("200 millis"), {
            failedRecordCount: pending.length,
            records: pending.map(() => ({ _tag: "Failure" as const, errorCode: "Throttled", errorMessage: "" }))
          }))
      )
      throttled += result.failedRecordCount
      pending = pending.filter((_, i) => result.records[i]?._tag === "Failure")
    }
  }
  const putSeconds = (Date.now() - started) / 1000
  yield* Console.log(`put ${RECORDS} records in ${putSeconds.toFixed(2)} s (${throttled} throttled and retried)`)

  const seen = new Set<number>()
  yield* Effect.forEach(shards, (shard, i) =>
    Effect.gen(function*() {
      let iterator: string | undefined = start[i]
      let count = 0
      while (iterator !== undefined) {
        const out: Kinesis.GetRecordsResponse = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 10_000 })
        for (const record of out.records) {
          seen.add((JSON.parse(new TextDecoder().decode(record.data)) as { n: number }).n)
        }
        count += out.records.length
        if (out.records.length === 0 && (out.millisBehindLatest ?? 0) === 0) break
        iterator = out.nextShardIterator
      }
      yield* Console.log(`${shard.shardId}: read ${count} records`)
    }))

  if (seen.size !== RECORDS) {
    return yield* Effect.fail(new Error(`read back ${seen.size} distinct records, expected ${RECORDS}`))
  }
  yield* Console.log(`ok: all ${RECORDS} records read back`)
})

// KINESIS_ENDPOINT or AWS_REGION set: use them; otherwise start kinesalite in this process.
const KinesisLive = Layer.unwrapScoped(Effect.gen(function*() {
  const endpoint = yield* Config.option(Config.string("KINESIS_ENDPOINT"))
  const region = yield* Config.option(Config.string("AWS_REGION"))
  if (Option.isSome(endpoint) || Option.isSome(region)) return Kinesis.layerConfig
  const local = yield* LocalKinesis.kinesalite()
  yield* Console.log(`embedded kinesalite listening at ${local.endpoint}`)
  return Kinesis.layer({ endpoint: local.endpoint, region: local.region, credentials: local.credentials })
}))

program.pipe(Effect.provide(KinesisLive), NodeRuntime.runMain)
