/**
 * The spans a pipeline emits, through `@effect/opentelemetry` into the OpenTelemetry SDK's in-memory
 * exporter: names, kinds, attributes (OpenTelemetry's conventions for AWS SDK calls and messaging),
 * parent/child structure and error status — for a produce, a consume, a throttled request and a
 * reshard on the in-memory engine, and the AWS request id of a call to kinesalite.
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest, Producer } from "@effect-kinesis/core"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Array as Arr, Effect, Fiber, Layer, Option, Stream, TestClock } from "effect"
import { freshStream, kinesaliteLayer } from "./utils/servers.js"

const tracing = (exporter: InMemorySpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "effect-kinesis-test" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

const env = (exporter: InMemorySpanExporter, shards = 1) =>
  Layer.mergeAll(
    KinesisTest.layer({ streams: { s: { shards } }, limits: false }),
    Checkpointer.layerMemory({ workerId: "w1" }),
    tracing(exporter)
  )

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

const childrenOf = (spans: ReadonlyArray<ReadableSpan>, parent: ReadableSpan) =>
  spans.filter((s) => parentOf(s) === parent.spanContext().spanId)

const produce = (from: number, to: number) =>
  Stream.fromIterable(Arr.range(from, to)).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false })))

/** Runs `effect` in a fiber, stepping the TestClock until it is done (retries and polls wait on it). */
const driven = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 600; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust("100 millis")
    }
    return yield* Fiber.join(fiber)
  })

describe("Tracing", () => {
  it.effect("a produce: one producer span per PutRecords request under the caller's span, the call its child", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const [shard] = yield* KinesisTest.shards("s")
      yield* produce(1, 10).pipe(Effect.withSpan("app"))
      const spans = exporter.getFinishedSpans()
      const [app] = named(spans, "app")
      const requests = named(spans, "effect-kinesis.produce")
      assert.strictEqual(requests.length, 1)
      const request = requests[0]!
      assert.strictEqual(parentOf(request), app!.spanContext().spanId)
      assert.strictEqual(request.kind, SpanKind.PRODUCER)
      assert.deepInclude(request.attributes, {
        "messaging.system": "aws_kinesis",
        "messaging.operation.type": "send",
        "messaging.destination.name": "s",
        "messaging.destination.partition.id": shard!.shardId,
        "messaging.batch.message_count": 10,
        "effect_kinesis.retry_attempt": 0,
        "effect_kinesis.throttled_records": 0,
        "effect_kinesis.failed_records": 0
      })
      assert.isAbove(request.attributes["effect_kinesis.bytes"] as number, 0)

      const calls = childrenOf(spans, request)
      assert.deepStrictEqual(calls.map((s) => s.name), ["Kinesis.PutRecords"])
      assert.strictEqual(calls[0]!.kind, SpanKind.CLIENT)
      assert.deepInclude(calls[0]!.attributes, {
        "rpc.system": "aws-api",
        "rpc.service": "Kinesis",
        "rpc.method": "PutRecords",
        "cloud.region": "us-east-1",
        "aws.kinesis.stream_name": "s"
      })
      assert.strictEqual(calls[0]!.status.code, SpanStatusCode.OK)
    }).pipe(Effect.provide(env(exporter)))
  })

  it.effect("a consume: fetch spans (GetRecords children) and deliver spans under the caller's span", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      yield* produce(1, 20)
      const [shard] = yield* KinesisTest.shards("s")
      yield* driven(
        Consumer.stream<number>({ stream: "s", idleDelay: "200 millis" }).pipe(
          Stream.take(20),
          Stream.runDrain,
          Effect.withSpan("app")
        )
      )
      const spans = exporter.getFinishedSpans()
      const [app] = named(spans, "app")
      const fetches = named(spans, "effect-kinesis.fetch")
      const withRecords = fetches.filter((s) => s.attributes["messaging.batch.message_count"] === 20)
      assert.strictEqual(withRecords.length, 1)
      assert.strictEqual(withRecords[0]!.kind, SpanKind.CLIENT)
      assert.deepInclude(withRecords[0]!.attributes, {
        "messaging.system": "aws_kinesis",
        "messaging.operation.type": "receive",
        "messaging.destination.name": "s",
        "messaging.destination.partition.id": shard!.shardId,
        "effect_kinesis.shard_end": false
      })
      assert.deepStrictEqual(childrenOf(spans, withRecords[0]!).map((s) => s.name), ["Kinesis.GetRecords"])
      // the shard's reader runs in the consumer's fibers, forked inside the caller's span
      assert.strictEqual(parentOf(withRecords[0]!), app!.spanContext().spanId)

      const delivered = named(spans, "effect-kinesis.deliver")
      assert.isAbove(delivered.length, 0)
      let records = 0
      for (const span of delivered) {
        assert.strictEqual(parentOf(span), app!.spanContext().spanId)
        assert.strictEqual(span.attributes["messaging.operation.type"], "process")
        assert.strictEqual(span.attributes["messaging.destination.partition.id"], shard!.shardId)
        records += span.attributes["effect_kinesis.user_records"] as number
      }
      assert.strictEqual(records, 20)
      // the consumer's own port calls are spans too
      assert.isAbove(named(spans, "Kinesis.ListShards").length, 0)
      assert.isAbove(named(spans, "Kinesis.GetShardIterator").length, 0)
    }).pipe(Effect.scoped, Effect.provide(env(exporter)))
  })

  it.effect("a fan-out consume: a subscribe span per subscription (its SubscribeToShard call a child), deliver spans", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      yield* produce(1, 20)
      const [shard] = yield* KinesisTest.shards("s")
      yield* driven(
        Consumer.stream<number>({ stream: "s", fanOut: { consumerName: "traced" } }).pipe(
          Stream.take(20),
          Stream.runDrain,
          Effect.withSpan("app")
        )
      )
      const spans = exporter.getFinishedSpans()
      const [app] = named(spans, "app")
      const [subscription] = named(spans, "effect-kinesis.subscribe")
      assert.isDefined(subscription, "a subscribe span")
      assert.strictEqual(subscription!.kind, SpanKind.CLIENT)
      assert.deepInclude(subscription!.attributes, {
        "messaging.system": "aws_kinesis",
        "messaging.operation.type": "receive",
        "messaging.destination.name": "s",
        "messaging.destination.partition.id": shard!.shardId
      })
      assert.isTrue(String(subscription!.attributes["aws.kinesis.consumer_arn"]).includes("/consumer/traced:"))
      assert.deepStrictEqual(childrenOf(spans, subscription!).map((s) => s.name), ["Kinesis.SubscribeToShard"])
      assert.strictEqual(parentOf(subscription!), app!.spanContext().spanId)
      assert.isAbove(named(spans, "effect-kinesis.deliver").length, 0)
      assert.strictEqual(named(spans, "effect-kinesis.fetch").length, 0, "no polling")
      assert.isAbove(named(spans, "Kinesis.RegisterStreamConsumer").length, 0)
    }).pipe(Effect.scoped, Effect.provide(env(exporter)))
  })

  it.effect("a throttled request: the call's span fails with the typed error; the retry is a span of its own", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      yield* KinesisTest.failNext("putRecords", { error: "ProvisionedThroughputExceeded" })
      yield* driven(produce(1, 5).pipe(Effect.withSpan("app")))
      const spans = exporter.getFinishedSpans()
      const requests = named(spans, "effect-kinesis.produce")
        .sort((a, b) =>
          (a.attributes["effect_kinesis.retry_attempt"] as number) -
          (b.attributes["effect_kinesis.retry_attempt"] as number)
        )
      assert.strictEqual(requests.length, 2)
      const [first, retry] = requests
      assert.deepInclude(first!.attributes, {
        "effect_kinesis.retry_attempt": 0,
        "effect_kinesis.throttled_records": 5,
        "effect_kinesis.failed_records": 5
      })
      assert.deepInclude(retry!.attributes, {
        "effect_kinesis.retry_attempt": 1,
        "effect_kinesis.throttled_records": 0,
        "effect_kinesis.failed_records": 0
      })
      const [failedCall] = childrenOf(spans, first!)
      assert.strictEqual(failedCall!.name, "Kinesis.PutRecords")
      assert.strictEqual(failedCall!.status.code, SpanStatusCode.ERROR)
      assert.include(failedCall!.status.message ?? "", "Rate exceeded")
      // the typed error is recorded as the span's exception, its tag as the type
      const exception = failedCall!.events.find((e) => e.name === "exception")
      assert.strictEqual(exception?.attributes?.["exception.type"], "ProvisionedThroughputExceeded")
      assert.strictEqual(childrenOf(spans, retry!)[0]!.status.code, SpanStatusCode.OK)

      // records throttled one by one: the call succeeds, the request's span counts them
      exporter.reset()
      yield* KinesisTest.throttleRecords({ fraction: 1 })
      const fiber = yield* Effect.fork(produce(6, 8))
      yield* TestClock.adjust("10 millis")
      yield* KinesisTest.clearFaults
      yield* driven(Fiber.join(fiber))
      const throttled = named(exporter.getFinishedSpans(), "effect-kinesis.produce")
        .find((s) => s.attributes["effect_kinesis.throttled_records"] === 3)
      assert.isDefined(throttled)
      assert.strictEqual(childrenOf(exporter.getFinishedSpans(), throttled!)[0]!.status.code, SpanStatusCode.OK)
    }).pipe(Effect.provide(env(exporter)))
  })

  it.effect("a reshard: the consumer's shard-ended span for the parent, and the split is a port call", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      yield* produce(1, 10)
      const [parent] = yield* KinesisTest.shards("s")
      const fiber = yield* Consumer.stream<number>({
        stream: "s",
        idleDelay: "200 millis",
        shardRefreshInterval: "1 second"
      }).pipe(Stream.take(30), Stream.runDrain, Effect.withSpan("app"), Effect.fork)
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("100 millis")
      yield* KinesisTest.splitShard("s", parent!.shardId)
      yield* produce(11, 30)
      yield* driven(Fiber.join(fiber))
      const spans = exporter.getFinishedSpans()
      const [app] = named(spans, "app")
      const ended = named(spans, "effect-kinesis.shard-ended")
      assert.strictEqual(ended.length, 1)
      assert.deepInclude(ended[0]!.attributes, {
        "messaging.system": "aws_kinesis",
        "messaging.destination.name": "s",
        "messaging.destination.partition.id": parent!.shardId
      })
      assert.strictEqual(parentOf(ended[0]!), app!.spanContext().spanId)
      // the parent's last fetch saw the end of the shard
      assert.isTrue(
        named(spans, "effect-kinesis.fetch").some((s) =>
          s.attributes["messaging.destination.partition.id"] === parent!.shardId &&
          s.attributes["effect_kinesis.shard_end"] === true
        )
      )
      // the children were read: their deliveries are spans under the caller's too
      const children = new Set(
        named(spans, "effect-kinesis.deliver").map((s) => s.attributes["messaging.destination.partition.id"])
      )
      assert.isAbove(children.size, 1)
    }).pipe(Effect.scoped, Effect.provide(env(exporter)))
  })

  it.effect("with Effect's default tracer no span is made: nothing lands on the caller's own span", () =>
    Effect.gen(function*() {
      yield* KinesisTest.throttleRecords({ fraction: 1 })
      const fiber = yield* Effect.fork(
        Effect.gen(function*() {
          yield* produce(1, 20)
          yield* Consumer.stream<number>({ stream: "s", idleDelay: "200 millis" }).pipe(
            Stream.take(20),
            Stream.runDrain
          )
          return yield* Effect.currentSpan
        }).pipe(Effect.withSpan("app"))
      )
      yield* TestClock.adjust("10 millis")
      yield* KinesisTest.clearFaults
      const app = yield* driven(Fiber.join(fiber))
      assert.strictEqual(app.name, "app")
      // the annotations of our spans (request id, counts) went nowhere rather than onto the caller's span
      assert.deepStrictEqual([...app.attributes.keys()], [])
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(
        KinesisTest.layer({ streams: { s: { shards: 1 } }, limits: false }),
        Checkpointer.layerMemory({ workerId: "w1" })
      ))
    ))

  it.live("a call to kinesalite carries the AWS request id, in each data plane", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      for (const dataPlane of ["cbor", "json", "sdk"] as const) {
        exporter.reset()
        const stream = freshStream("tracing")
        yield* Effect.gen(function*() {
          yield* Kinesis.createStream({ streamName: stream.name, shardCount: 1, waitUntilActive: true })
          yield* Kinesis.putRecords({ stream, records: [{ data: new Uint8Array([1, 2, 3]), partitionKey: "k" }] })
          yield* Kinesis.deleteStream({ stream })
        }).pipe(Effect.provide(kinesaliteLayer(dataPlane)))
        const [put] = named(exporter.getFinishedSpans(), "Kinesis.PutRecords")
        assert.isDefined(put, dataPlane)
        assert.deepInclude(put!.attributes, { "rpc.method": "PutRecords", "aws.kinesis.stream_name": stream.name })
        assert.isString(put!.attributes["cloud.region"], dataPlane)
        assert.isString(put!.attributes["aws.request_id"], dataPlane)
        assert.isAbove((put!.attributes["aws.request_id"] as string).length, 0)
      }
    }).pipe(Effect.provide(tracing(exporter)))
  })
})
