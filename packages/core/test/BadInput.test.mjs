// Bad input from a JavaScript caller: no compiler guards these calls (this file is plain JavaScript),
// so every value that crosses the public API unchecked — stream addresses, options, record data, keys —
// must end in a typed failure naming what came, never a defect, a hang or a silently wrong request.
import { Checkpointer, Consumer, Kinesis, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Stream } from "effect"

const inMemory = Layer.merge(KinesisTest.layer({ streams: { s: { shards: 1 } }, limits: false }), Checkpointer.layerMemory())
// checks run before anything is sent: nothing needs to listen here
const overHttp = Kinesis.layer({
  endpoint: "http://127.0.0.1:1",
  region: "us-east-1",
  credentials: { accessKeyId: "a", secretAccessKey: "b" }
})
const s = StreamAddress.unsafeMake("s")

/** Runs `effect`, which must fail with a typed error of `tag` (not die, not succeed), and returns it. */
const failsWith = (effect, tag, layer = inMemory) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect).pipe(Effect.provide(layer), Effect.timeout("5 seconds")))
    assert.isTrue(Exit.isFailure(exit), `${tag}: the call succeeded`)
    const failure = Cause.failureOption(exit.cause)
    assert.isTrue(failure._tag === "Some", `${tag}: not a typed failure: ${Cause.pretty(exit.cause)}`)
    assert.strictEqual(failure.value._tag, tag, failure.value.message)
    return failure.value
  })

const sink = (options, values = [1]) => Stream.fromIterable(values).pipe(Stream.run(Producer.sink(options)))
const consume = (options) => Consumer.stream(options).pipe(Stream.take(1), Stream.runDrain)

describe("bad input from JavaScript", () => {
  for (const [name, layer] of [["KinesisTest", inMemory], ["Kinesis.layer", overHttp]]) {
    it.live(`${name}: putRecords with data, keys or records of the wrong type → InvalidArgument`, () =>
      Effect.gen(function*() {
        const put = (records) => Kinesis.putRecords({ stream: s, records })
        let e = yield* failsWith(put([{ data: "abc", partitionKey: "k" }]), "InvalidArgument", layer)
        assert.include(e.message, "data must be a Uint8Array, got string")
        e = yield* failsWith(put([{ data: new Uint8Array(1), partitionKey: 5 }]), "InvalidArgument", layer)
        assert.include(e.message, "partitionKey must be a string, got number")
        e = yield* failsWith(
          put([{ data: new Uint8Array(1), partitionKey: "k", explicitHashKey: 12 }]),
          "InvalidArgument",
          layer
        )
        assert.include(e.message, "explicitHashKey must be a string")
        e = yield* failsWith(put(null), "InvalidArgument", layer)
        assert.include(e.message, "records must be an array")
        e = yield* failsWith(put([null]), "InvalidArgument", layer)
        assert.include(e.message, "record 0 is not an object")
        e = yield* failsWith(
          Kinesis.putRecords({ stream: "s", records: [{ data: new Uint8Array(1), partitionKey: "k" }] }),
          "InvalidArgument",
          layer
        )
        assert.include(e.message, "stream must be a StreamAddress")
        e = yield* failsWith(Kinesis.putRecord({ stream: s, data: null, partitionKey: "k" }), "InvalidArgument", layer)
        assert.include(e.message, "data must be a Uint8Array")
      }))
  }

  it.live("Producer: a stream that is not a name, an ARN or a StreamAddress → InvalidStreamAddress", () =>
    Effect.gen(function*() {
      for (const stream of [42, null, { name: 1 }]) {
        const e = yield* failsWith(sink({ stream }), "InvalidStreamAddress")
        assert.include(e.message, "expected a stream name, an ARN or a StreamAddress")
      }
    }))

  it.live("Producer: options of the wrong type or out of range → InvalidOption naming the option", () =>
    Effect.gen(function*() {
      const cases = [
        [{ bufferTime: "abc" }, "bufferTime"],
        [{ maxBatchRecords: "500" }, "maxBatchRecords"],
        [{ maxBatchRecords: 501 }, "maxBatchRecords"],
        [{ maxBatchBytes: 0 }, "maxBatchBytes"],
        [{ maxQueueRecords: -1 }, "maxQueueRecords"],
        [{ maxQueueBytes: 1.5 }, "maxQueueBytes"],
        [{ maxInFlightRequests: NaN }, "maxInFlightRequests"],
        [{ maxRecordSize: "1MB" }, "maxRecordSize"],
        [{ shardLimits: true }, "shardLimits"],
        [{ shardLimits: { fraction: 2 } }, "shardLimits.fraction"],
        [{ shardLimits: { recordsPerSecond: -5 } }, "shardLimits.recordsPerSecond"],
        [{ createStream: { shardCount: 0 } }, "createStream.shardCount"],
        [{ shardMap: "none" }, "shardMap"],
        [{ partitionKey: "id" }, "partitionKey"],
        [{ shutdownTimeout: {} }, "shutdownTimeout"],
        [{ metrics: "yes" }, "metrics"],
        [{ preserveOrder: 1 }, "preserveOrder"],
        [{ processor: "json" }, "processor"],
        [{ retrySchedule: { times: 3 } }, "retrySchedule"],
        [{ createStream: true }, "createStream"],
        [{ createStream: { onDemand: "yes" } }, "createStream"],
        [{ bufferTime: -1 }, "bufferTime"],
        [{ afterFlush: "log" }, "afterFlush"]
      ]
      for (const [options, option] of cases) {
        const e = yield* failsWith(sink({ stream: "s", ...options }), "InvalidOption")
        assert.strictEqual(e.option, option)
        assert.include(e.message, `option ${option}: expected`)
      }
      const e = yield* failsWith(sink(null), "InvalidOption")
      assert.strictEqual(e.option, "options")
    }))

  it.live("Producer: keys of the wrong type and values the processor cannot encode → typed errors", () =>
    Effect.gen(function*() {
      let e = yield* failsWith(sink({ stream: "s", partitionKey: (v) => v }), "InvalidPartitionKey")
      assert.include(e.message, "number")
      e = yield* failsWith(
        sink({ stream: "s", partitionKey: () => { throw new Error("boom") } }),
        "InvalidPartitionKey"
      )
      assert.include(e.message, "boom")
      e = yield* failsWith(sink({ stream: "s" }, [Producer.record(1, { partitionKey: 7 })]), "InvalidPartitionKey")
      e = yield* failsWith(sink({ stream: "s" }, [Producer.record(1, { explicitHashKey: 7 })]), "InvalidPartitionKey")
      e = yield* failsWith(sink({ stream: "s", processor: Processor.bytes }, ["not bytes"]), "EncodeError")
      assert.include(e.message, "expected a Uint8Array")
      e = yield* failsWith(sink({ stream: "s", processor: Processor.string }, [5]), "EncodeError")
      e = yield* failsWith(sink({ stream: "s" }, [undefined]), "EncodeError")
      // a serializer written in JavaScript that returns something other than bytes
      const text = Processor.make({
        name: "text",
        serializer: { encode: (v) => String(v), decode: (b) => b },
        aggregator: Processor.newlineAggregator
      })
      const raw = Processor.make({ name: "raw", serializer: { encode: () => null, decode: (b) => b }, aggregator: Processor.singleAggregator })
      for (const processor of [text, raw]) {
        e = yield* failsWith(sink({ stream: "s", processor }, ["a"]), "EncodeError")
        assert.include(e.message, "not a Uint8Array")
      }
    }))

  it.live("Producer: offer with something other than an iterable → EncodeError", () =>
    Effect.gen(function*() {
      for (const values of [5, null, "abc", { value: 1 }]) {
        const e = yield* failsWith(
          Effect.flatMap(Producer.make({ stream: "s" }), (producer) => producer.offer(values)),
          "EncodeError"
        )
        assert.include(e.message, "offer takes an iterable")
      }
    }))

  it.live("Consumer: a bad stream, options of the wrong type or out of range → typed errors", () =>
    Effect.gen(function*() {
      yield* failsWith(consume({ stream: 1 }), "InvalidStreamAddress")
      const cases = [
        [{ idleDelay: "zzz" }, "idleDelay"],
        [{ chunkSize: "x" }, "chunkSize"],
        [{ recordLimit: 0 }, "recordLimit"],
        [{ recordLimit: 10_001 }, "recordLimit"],
        [{ shardFetchRate: 0 }, "shardFetchRate"],
        [{ iteratorType: "NOPE" }, "iteratorType"],
        [{ iteratorType: "AT_TIMESTAMP" }, "timestamp"],
        [{ iteratorType: "AT_TIMESTAMP", timestamp: "2024-01-01" }, "timestamp"],
        [{ maxBufferRecords: -1 }, "maxBufferRecords"],
        [{ maxBufferBytes: "1MB" }, "maxBufferBytes"],
        [{ maxShards: 0 }, "maxShards"],
        [{ checkpoint: "sometimes" }, "checkpoint"],
        [{ checkpointInterval: "later" }, "checkpointInterval"],
        [{ checkpointEvery: 0 }, "checkpointEvery"],
        [{ shardRefreshInterval: "often" }, "shardRefreshInterval"],
        [{ metrics: "no" }, "metrics"],
        [{ processor: Processor.json.serializer }, "processor"],
        [{ retrySchedule: "exponential" }, "retrySchedule"],
        [{ onDecodeError: "ignore" }, "onDecodeError"],
        [{ onDecodeError: { deadLetter: [] } }, "onDecodeError"],
        [{ checkpointInterval: 0 }, "checkpointInterval"],
        [{ shardRefreshInterval: -1 }, "shardRefreshInterval"]
      ]
      for (const [options, option] of cases) {
        const e = yield* failsWith(consume({ stream: "s", ...options }), "InvalidOption")
        assert.strictEqual(e.option, option)
      }
      let e = yield* failsWith(consume(undefined), "InvalidOption")
      assert.strictEqual(e.option, "options")
      e = yield* failsWith(Stream.runDrain(Consumer.shards({ stream: "s", recordLimit: 0 })), "InvalidOption")
      assert.strictEqual(e.option, "recordLimit")
    }))

  it.live("Consumer.process options and handler of the wrong type → InvalidOption, before anything runs", () =>
    Effect.gen(function*() {
      const handler = () => Effect.void
      const cases = [
        [{ concurrency: 0 }, "concurrency"],
        [{ concurrency: "many" }, "concurrency"],
        [{ maxInFlightPerShard: 1.5 }, "maxInFlightPerShard"],
        [{ order: "key" }, "order"],
        [{ retry: 3 }, "retry"],
        [{ onFailure: "skip" }, "onFailure"],
        [{ onFailure: { deadLetter: "dlq" } }, "onFailure"],
        [{ dedupe: { id: "id", window: 10 } }, "dedupe"],
        [{ dedupe: { id: (r) => r.sequenceNumber, window: 0 } }, "dedupe"],
        [{ recordLimit: 0 }, "recordLimit"]
      ]
      for (const [options, option] of cases) {
        const e = yield* failsWith(Consumer.process({ stream: "s", ...options }, handler), "InvalidOption")
        assert.strictEqual(e.option, option)
      }
      const e = yield* failsWith(Consumer.process({ stream: "s" }, "not a function"), "InvalidOption")
      assert.strictEqual(e.option, "handler")
    }))
})
