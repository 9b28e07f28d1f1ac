/**
 * `effect-kinesis bench`: producer then consumer throughput.
 *
 * Targets: an embedded kinesalite (the default: no AWS, no server), a new temporary stream on
 * `--endpoint` / `KINESIS_ENDPOINT` (deleted afterwards), or an existing `--stream` (e.g. on AWS; its
 * records stay). Every record of a run has a partition key `<run id>-<n>`, and the read phase counts
 * only those, from a little before the run started (AT_TIMESTAMP), so other data on the stream does
 * not count.
 *
 * @internal
 */
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Consumer from "@effect-kinesis/core/Consumer"
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as Processor from "@effect-kinesis/core/Processor"
import * as Producer from "@effect-kinesis/core/Producer"
import * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { type Connection, kinesisLayer, parseStream, resolveOptions, retryThrottling } from "./connection.js"
import { importOptional, UsageError } from "./errors.js"
import * as Format from "./format.js"

/** @internal */
export interface BenchOptions extends Connection {
  readonly stream: Option.Option<string>
  readonly records: number
  readonly size: number
  readonly shards: number
  readonly timeout: Duration.Duration
  readonly json: boolean
  /** Run on the embedded kinesalite (the default without --stream and --endpoint), ignoring KINESIS_ENDPOINT. */
  readonly local: boolean
}

/** The read phase did not see every record of the run in time. @internal */
export class BenchIncomplete extends Data.TaggedError("BenchIncomplete")<{
  readonly expected: number
  readonly read: number
  readonly timeout: string
}> {
  override get message(): string {
    return `read ${this.read} of ${this.expected} records within ${this.timeout}`
  }
}

interface Phase {
  readonly records: number
  readonly seconds: number
  readonly recordsPerSecond: number
  readonly bytesPerSecond: number
}

const phase = (records: number, bytesPerRecord: number, millis: number): Phase => {
  const seconds = Math.max(0.001, millis / 1000)
  return {
    records,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSecond: Math.round(records / seconds),
    bytesPerSecond: Math.round((records * bytesPerRecord) / seconds)
  }
}

const phaseText = (name: string, p: Phase): string =>
  `${name}  ${Format.count(p.records)} records in ${Format.duration(p.seconds * 1000)}: ` +
  `${Format.count(p.recordsPerSecond)} records/s, ${Format.bytes(p.bytesPerSecond)}/s`

const runBench = (
  address: StreamAddress.StreamAddress,
  options: BenchOptions,
  target: string,
  pacing: boolean
) =>
  Effect.gen(function*() {
    const runId = Math.random().toString(36).slice(2, 10)
    const payload = new Uint8Array(options.size).map((_, i) => 97 + (i % 26))
    const bytesPerRecord = options.size + runId.length + 8
    const summary = yield* retryThrottling(Kinesis.describeStreamSummary(address))
    if (!options.json) {
      yield* Format.errLine(
        `bench: ${Format.count(options.records)} records of ${Format.bytes(options.size)} -> ${target} ` +
          `(${summary.openShardCount} open shard(s))`
      )
    }

    // put
    const putStarted = yield* Clock.currentTimeMillis
    yield* Stream.range(1, options.records).pipe(
      Stream.map((i) => Producer.record(payload, { partitionKey: `${runId}-${i}` })),
      Stream.run(Producer.sink({
        stream: address,
        processor: Processor.bytes,
        shardLimits: pacing ? undefined : false,
        metrics: false
      }))
    )
    const putDone = yield* Clock.currentTimeMillis
    const put = phase(options.records, bytesPerRecord, putDone - putStarted)
    if (!options.json) yield* Format.outLine(phaseText("put ", put))

    // read: only this run's records, from just before it started
    const prefix = `${runId}-`
    let read = 0
    const readStarted = yield* Clock.currentTimeMillis
    yield* Consumer.stream({
      stream: address,
      processor: Processor.bytes,
      iteratorType: "AT_TIMESTAMP",
      timestamp: new Date(putStarted - 5_000),
      idleDelay: "200 millis",
      metrics: false
    }).pipe(
      Stream.filter((record) => record.partitionKey.startsWith(prefix)),
      Stream.tap(() =>
        Effect.sync(() => {
          read++
        })
      ),
      Stream.take(options.records),
      Stream.runDrain,
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () =>
          new BenchIncomplete({
            expected: options.records,
            read,
            timeout: Format.duration(Duration.toMillis(options.timeout))
          })
      }),
      Effect.provide(Checkpointer.layerMemory())
    )
    const readDone = yield* Clock.currentTimeMillis
    const readPhase = phase(options.records, bytesPerRecord, readDone - readStarted)
    if (options.json) {
      yield* Format.outLine(JSON.stringify(
        {
          target,
          stream: StreamAddress.format(address),
          openShards: summary.openShardCount,
          records: options.records,
          recordSize: options.size,
          put,
          read: readPhase
        },
        null,
        2
      ))
    } else {
      yield* Format.outLine(phaseText("read", readPhase))
    }
  })

/** A stream created for the run and deleted afterwards. */
const temporaryStream = (shards: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const streamName = `effect-kinesis-bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
      yield* Kinesis.createStream({ streamName, shardCount: shards, waitUntilActive: true })
      return StreamAddress.unsafeMake(streamName)
    }),
    (address) => Kinesis.deleteStream({ stream: address }).pipe(Effect.ignore)
  )

/** @internal */
export const bench = (options: BenchOptions) =>
  Effect.gen(function*() {
    if (!Number.isInteger(options.records) || options.records < 1) {
      return yield* new UsageError({ message: "--records must be at least 1" })
    }
    if (!Number.isInteger(options.size) || options.size < 1 || options.size > 1024 * 1024 - 64) {
      return yield* new UsageError({ message: "--size must be between 1 and 1,048,512 bytes" })
    }
    if (!Number.isInteger(options.shards) || options.shards < 1) {
      return yield* new UsageError({ message: "--shards must be at least 1" })
    }
    if (options.local && (Option.isSome(options.stream) || Option.isSome(options.endpoint))) {
      return yield* new UsageError({ message: "--local runs on an embedded kinesalite: drop --stream and --endpoint" })
    }
    if (Option.isSome(options.stream)) {
      const address = yield* parseStream(options.stream.value)
      return yield* runBench(address, options, `stream ${StreamAddress.format(address)}`, true).pipe(
        Effect.provide(kinesisLayer(options, address))
      )
    }
    const env = yield* Kinesis.config
    const endpoint = options.local ? undefined : resolveOptions(env, options).endpoint
    if (endpoint !== undefined) {
      return yield* Effect.gen(function*() {
        const address = yield* temporaryStream(options.shards)
        yield* runBench(address, options, `${endpoint}, temporary stream ${address.name}`, true)
      }).pipe(Effect.scoped, Effect.provide(kinesisLayer(options)))
    }
    // the embedded server is only loaded for this command
    // (through its Promise API: the published CLI is a bundle with its own copy of Effect)
    const LocalKinesis = yield* importOptional(
      "@effect-kinesis/local",
      "bench --local",
      () => import("@effect-kinesis/local/LocalKinesis")
    )
    // a LocalServerError it rejects with is reported by its tag, like any failure
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => LocalKinesis.startKinesalite()),
      (handle) => Effect.promise(() => handle.close())
    )
    return yield* Effect.gen(function*() {
      const address = yield* temporaryStream(options.shards)
      // kinesalite has no write limits: pacing would only measure the pacing
      yield* runBench(address, options, `embedded kinesalite, stream ${address.name}`, false)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Kinesis.layer({ endpoint: server.endpoint, region: server.region, credentials: server.credentials })
      )
    )
  }).pipe(Effect.scoped)
