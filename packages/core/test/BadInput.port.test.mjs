// Bad input to the Kinesis port and its layers from a JavaScript caller: this file is plain JavaScript,
// so no compiler guards these calls. Each must end in a typed failure naming what came — never a
// defect, nor a body of the wrong shape sent to the service.
import { Kinesis, KinesisError, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Effect, Exit } from "effect"
import * as Http from "node:http"

const credentials = { accessKeyId: "local", secretAccessKey: "local" }
const s = StreamAddress.unsafeMake("s")
const good = { data: new Uint8Array([1]), partitionKey: "k" }

/** A local server that counts requests and answers every one with a failure: nothing must reach it. */
const countingServer = Effect.acquireRelease(
  Effect.async((resume) => {
    const counter = { requests: 0 }
    const server = Http.createServer((req, res) => {
      counter.requests++
      req.resume()
      res.writeHead(500, { "content-type": "application/x-amz-json-1.1" })
      res.end(JSON.stringify({ __type: "InternalFailureException", message: "should not be called" }))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, counter })))
  }),
  ({ server }) =>
    Effect.async((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ counter, server }) => ({ counter, endpoint: `http://127.0.0.1:${server.address().port}` })))

/** Runs `effect`: it must fail with a typed error of `tag` (not die, not succeed); returns the error. */
const failsWith = (effect, tag) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect))
    assert.isTrue(Exit.isFailure(exit), `${tag}: the call succeeded`)
    const failure = Cause.failureOption(exit.cause)
    assert.isTrue(failure._tag === "Some", `${tag}: not a typed failure: ${Cause.pretty(exit.cause)}`)
    assert.strictEqual(failure.value._tag, tag, failure.value.message)
    assert.isTrue(KinesisError.isKinesisError(failure.value) || tag === "ConfigError")
    return failure.value
  })

describe("the port from JavaScript", () => {
  for (const dataPlane of ["cbor", "json", "sdk"]) {
    it.scopedLive(`${dataPlane}: records, keys, streams and GetRecords requests of the wrong type → InvalidArgument`, () =>
      Effect.gen(function*() {
        const server = yield* countingServer
        const kinesis = yield* Effect.provide(
          Kinesis.Kinesis,
          Kinesis.layer({ endpoint: server.endpoint, region: "us-east-1", credentials, dataPlane })
        )
        // through the service itself (the accessors check too, for every implementation: see below)
        const cases = [
          [kinesis.putRecords({ stream: s, records: [good, { data: "abc", partitionKey: "k" }] }), "record 1: data must be a Uint8Array, got string \"abc\""],
          [kinesis.putRecords({ stream: s, records: [{ data: [1, 2], partitionKey: "k" }] }), "data must be a Uint8Array, got an array"],
          [kinesis.putRecords({ stream: s, records: [{ data: new Uint8Array(1), partitionKey: 5 }] }), "partitionKey must be a string, got number 5"],
          [kinesis.putRecords({ stream: s, records: [{ ...good, explicitHashKey: 12n }] }), "explicitHashKey must be a string, got bigint 12"],
          [kinesis.putRecords({ stream: s, records: [null] }), "record 0 is not an object (null)"],
          [kinesis.putRecords({ stream: s, records: "abc" }), "records must be an array"],
          [kinesis.putRecords({ stream: "s", records: [good] }), "stream must be a StreamAddress"],
          [kinesis.putRecord({ stream: s, data: "abc", partitionKey: "k" }), "data must be a Uint8Array, got string"],
          [kinesis.putRecord({ stream: s, data: new Uint8Array(1), partitionKey: {} }), "partitionKey must be a string, got an object"],
          [kinesis.putRecord({ ...good, stream: s, sequenceNumberForOrdering: 1 }), "sequenceNumberForOrdering must be a string"],
          [kinesis.getRecords({ shardIterator: 42 }), "shardIterator must be a string, got number 42"],
          [kinesis.getRecords({ shardIterator: "AAAA", limit: 0 }), "limit must be an integer from 1 to 10000, got number 0"],
          [kinesis.getRecords({ shardIterator: "AAAA", limit: "10" }), "limit must be an integer"],
          [kinesis.getRecords({ shardIterator: "AAAA", stream: "s" }), "stream must be a StreamAddress"]
        ]
        for (const [effect, message] of cases) {
          const error = yield* failsWith(effect, "InvalidArgument")
          assert.include(error.message, message)
          assert.strictEqual(error.awsName, "ValidationException")
          assert.isFalse(KinesisError.isRetryable(error))
        }
        assert.strictEqual(server.counter.requests, 0, "a bad request was sent")
      }))
  }

  it.scopedLive("the accessors check before any implementation is called", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const layer = Kinesis.layer({ endpoint: server.endpoint, region: "us-east-1", credentials })
      let e = yield* failsWith(
        Effect.provide(Kinesis.putRecords({ stream: s, records: [{ data: 1, partitionKey: "k" }] }), layer),
        "InvalidArgument"
      )
      assert.include(e.message, "data must be a Uint8Array, got number 1")
      e = yield* failsWith(Effect.provide(Kinesis.putRecord({ stream: s, data: null, partitionKey: "k" }), layer), "InvalidArgument")
      assert.include(e.message, "data must be a Uint8Array, got null")
      e = yield* failsWith(Effect.provide(Kinesis.getRecords({}), layer), "InvalidArgument")
      assert.include(e.message, "shardIterator must be a string, got undefined")
      assert.strictEqual(server.counter.requests, 0)
    }))
})

describe("Kinesis layers from JavaScript", () => {
  const put = Kinesis.putRecords({ stream: s, records: [good] })

  it.effect("Kinesis.layer: options of the wrong type or out of range → InvalidOption when the layer is built", () =>
    Effect.gen(function*() {
      const cases = [
        [{ region: 5 }, "region", "a region name"],
        [{ region: "us east 1" }, "region", "a region name"],
        [{ endpoint: "127.0.0.1:4567" }, "endpoint", "an http:// or https:// URL"],
        [{ endpoint: "ftp://host" }, "endpoint", "an http:// or https:// URL"],
        [{ credentials: { accessKeyId: "a" } }, "credentials", "accessKeyId, secretAccessKey"],
        [{ credentials: "key:secret" }, "credentials", "accessKeyId, secretAccessKey"],
        [{ maxAttempts: 0 }, "maxAttempts", "an integer at least 1"],
        [{ maxAttempts: "3" }, "maxAttempts", "an integer at least 1"],
        [{ requestTimeout: "soon" }, "requestTimeout", "a duration"],
        [{ connectionTimeout: -5 }, "connectionTimeout", "a duration of zero or more"],
        [{ maxSockets: 1.5 }, "maxSockets", "an integer"],
        [{ requestHandler: 1 }, "requestHandler", "a request handler"],
        [{ clientConfig: "x" }, "clientConfig", "a KinesisClient configuration object"],
        [{ dataPlane: "xml" }, "dataPlane", "one of \"cbor\", \"json\", \"sdk\""]
      ]
      for (const [options, option, expected] of cases) {
        const e = yield* failsWith(Effect.provide(put, Kinesis.layer({ region: "us-east-1", ...options })), "InvalidOption")
        assert.strictEqual(e.option, option)
        assert.deepStrictEqual(e.value, options[option])
        assert.include(e.expected, expected)
        assert.include(e.message, `option ${option}: expected`)
      }
      const e = yield* failsWith(Effect.provide(put, Kinesis.layer("us-east-1")), "InvalidOption")
      assert.strictEqual(e.option, "options")
      yield* failsWith(Kinesis.makeClient({ maxAttempts: -1 }), "InvalidOption")
    }))

  it.scoped("Kinesis.layerClient and fromClient: an unknown data plane → InvalidOption", () =>
    Effect.gen(function*() {
      const client = yield* Kinesis.makeClient({ region: "us-east-1", credentials })
      const e = yield* failsWith(Effect.provide(put, Kinesis.layerClient(client, { dataPlane: "CBOR" })), "InvalidOption")
      assert.strictEqual(e.option, "dataPlane")
      const thrown = yield* Effect.try({ try: () => Kinesis.fromClient(client, { dataPlane: 1 }), catch: (e) => e }).pipe(
        Effect.flip
      )
      assert.strictEqual(thrown._tag, "InvalidOption")
    }))

  it.effect("Kinesis.layerConfig: a value of the wrong kind is a ConfigError naming the option", () =>
    Effect.gen(function*() {
      const e = yield* failsWith(
        Effect.provide(put, Kinesis.layerConfig({ region: Config.succeed("us-east-1"), maxAttempts: Config.succeed(0) })),
        "ConfigError"
      )
      assert.include(String(e), "maxAttempts")
      assert.include(String(e), "an integer at least 1")
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))

  it.effect("StreamAddress.make: values that are not a name, an ARN or a StreamAddress → InvalidStreamAddress", () =>
    Effect.gen(function*() {
      for (const input of [42, null, undefined, { name: 1 }, { _tag: "StreamArn", name: "s" }]) {
        const e = yield* failsWith(StreamAddress.make(input), "InvalidStreamAddress")
        assert.include(e.message, "expected a stream name, an ARN or a StreamAddress")
      }
      yield* failsWith(StreamAddress.make(""), "InvalidStreamAddress")
      yield* failsWith(StreamAddress.make("arn:aws:s3:::bucket"), "InvalidStreamAddress")
    }))
})
