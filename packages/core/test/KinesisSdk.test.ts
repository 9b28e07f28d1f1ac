/**
 * The SDK layer itself: the error table through the SDK's real deserializer, no hidden SDK retries,
 * interruption aborting the HTTP request, the client destroyed with the layer, and `layerConfig` (one
 * `Config` of the options or one per option).
 */
import { Kinesis, KinesisError, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Schedule,
  Scope
} from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import { inject } from "vitest"

const credentials = { accessKeyId: "local", secretAccessKey: "local" }
const stream = StreamAddress.unsafeMake("errors")

interface FakeServer {
  readonly endpoint: string
  readonly requests: Array<string>
  /** Resolves with the socket of each request that arrives. */
  readonly onRequest: (f: (socket: Net.Socket) => void) => void
}

/**
 * An HTTP server speaking the AWS JSON 1.1 error format: answers every request with the status and
 * `__type` that `respond` returns, or never answers when it returns undefined.
 */
const fakeServer = (respond: (target: string) => { readonly status: number; readonly type: string } | undefined) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; fake: FakeServer }>((resume) => {
      const requests: Array<string> = []
      let listener: (socket: Net.Socket) => void = () => {}
      const server = Http.createServer((req, res) => {
        const target = String(req.headers["x-amz-target"] ?? "")
        requests.push(target)
        req.resume()
        listener(req.socket)
        const answer = respond(target)
        if (answer === undefined) return // hang
        res.writeHead(answer.status, {
          "content-type": "application/x-amz-json-1.1",
          "x-amzn-requestid": "req-1"
        })
        res.end(JSON.stringify({ __type: answer.type, message: `fake ${answer.type}` }))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(Effect.succeed({
          server,
          fake: {
            endpoint: `http://127.0.0.1:${address.port}`,
            requests,
            onRequest: (f) => {
              listener = f
            }
          }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))

const portOn = (endpoint: string, dataPlane?: Kinesis.DataPlane) =>
  Kinesis.layer({ endpoint, region: "us-east-1", credentials, dataPlane })

const putOne = Kinesis.putRecords({ stream, records: [{ data: new Uint8Array([1]), partitionKey: "k" }] })

describe("Kinesis.layer", () => {
  // the same table on every data plane (the SDK's commands, and our CBOR and JSON bodies)
  for (const dataPlane of ["cbor", "json", "sdk"] as const) {
    it.scopedLive(`${dataPlane} data plane: maps every AWS exception name of the table to its tag, keeping the error and request id`, () =>
      Effect.gen(function*() {
        let type = ""
        const server = yield* fakeServer(() => ({ status: 400, type }))
        const cases: ReadonlyArray<readonly [string, string, string?]> = [
          ["ProvisionedThroughputExceededException", "ProvisionedThroughputExceeded"],
          // a whole-request LimitExceeded is throttling (isThrottling), so PutRecords declares it: retried by the producer
          ["LimitExceededException", "LimitExceeded"],
          ["ResourceNotFoundException", "ResourceNotFound"],
          ["InvalidArgumentException", "InvalidArgument"],
          ["ValidationException", "InvalidArgument"],
          ["AccessDeniedException", "AccessDenied"],
          ["KMSThrottlingException", "KmsError", "KMSThrottlingException"],
          ["KMSAccessDeniedException", "KmsError", "KMSAccessDeniedException"],
          ["KMSDisabledException", "KmsError", "KMSDisabledException"],
          ["KMSInvalidStateException", "KmsError", "KMSInvalidStateException"],
          ["KMSNotFoundException", "KmsError", "KMSNotFoundException"],
          ["KMSOptInRequired", "KmsError", "KMSOptInRequired"],
          // not a PutRecords error in the API reference: the declared union holds
          ["ResourceInUseException", "KinesisUnknownError"],
          ["SomethingNewException", "KinesisUnknownError"]
        ]
        const kinesis = yield* Effect.provide(Kinesis.Kinesis, portOn(server.endpoint, dataPlane))
        for (const [name, tag, kind] of cases) {
          type = name
          const error = yield* Effect.flip(kinesis.putRecords({
            stream,
            records: [{ data: new Uint8Array([1]), partitionKey: "k" }]
          }))
          assert.strictEqual(error._tag, tag, name)
          assert.strictEqual(error.operation, "putRecords")
          assert.strictEqual(error.stream, "errors")
          assert.strictEqual(error.requestId, "req-1")
          assert.strictEqual((error.cause as Error).name, name)
          if (kind !== undefined) assert.strictEqual(error._tag === "KmsError" ? error.kind : "", kind)
          if (error._tag === "KinesisUnknownError") assert.strictEqual(error.name, name)
          // PutRecord declares the same errors (a throttled single put fails as a whole)
          const single = yield* Effect.flip(kinesis.putRecord({ stream, data: new Uint8Array([1]), partitionKey: "k" }))
          assert.strictEqual(single._tag, tag, `PutRecord ${name}`)
          assert.strictEqual(single.operation, "putRecord")
          assert.strictEqual(single.requestId, "req-1")
        }
        // GetRecords-only and control-plane names
        const cases2: ReadonlyArray<readonly [string, Effect.Effect<unknown, KinesisError.ServiceError>, string]> = [
          ["ExpiredIteratorException", kinesis.getRecords({ shardIterator: "x" }), "ExpiredIterator"],
          ["LimitExceededException", kinesis.getRecords({ shardIterator: "x" }), "LimitExceeded"],
          ["ExpiredNextTokenException", kinesis.listShards({ stream }), "ExpiredNextToken"],
          ["LimitExceededException", kinesis.listShards({ stream }), "LimitExceeded"],
          [
            "ResourceInUseException",
            kinesis.splitShard({ stream, shardToSplit: "s", newStartingHashKey: "1" }),
            "ResourceInUse"
          ]
        ]
        for (const [name, effect, tag] of cases2) {
          type = name
          const error = yield* Effect.flip(effect)
          assert.strictEqual(error._tag, tag, name)
        }
      }))

    it.scopedLive(`${dataPlane} data plane: no hidden retry: throttling reaches the caller after one request, tagged for catchTag`, () =>
      Effect.gen(function*() {
        const server = yield* fakeServer(() => ({ status: 400, type: "ProvisionedThroughputExceededException" }))
        const caught = yield* putOne.pipe(
          Effect.as("delivered"),
          Effect.catchTag("ProvisionedThroughputExceeded", (e) => Effect.succeed(`throttled: ${e.message}`)),
          Effect.provide(portOn(server.endpoint, dataPlane))
        )
        assert.strictEqual(caught, "throttled: fake ProvisionedThroughputExceededException")
        assert.deepStrictEqual(server.requests, ["Kinesis_20131202.PutRecords"])
        const error = yield* Effect.flip(Effect.provide(putOne, portOn(server.endpoint, dataPlane)))
        assert.isTrue(KinesisError.isThrottling(error))
        assert.isTrue(KinesisError.isRetryable(error))
      }))

    it.scopedLive(`${dataPlane} data plane: server failures are retryable KinesisUnknownErrors, a refused connection a retryable KinesisConfigError`, () =>
      Effect.gen(function*() {
        const server = yield* fakeServer(() => ({ status: 500, type: "InternalFailureException" }))
        const internal = yield* Effect.flip(Effect.provide(putOne, portOn(server.endpoint, dataPlane)))
        assert.strictEqual(internal._tag, "KinesisUnknownError")
        assert.isTrue(KinesisError.isRetryable(internal))
        assert.strictEqual(server.requests.length, 1)

        // nothing listens on port 1
        const refused = yield* Effect.flip(Effect.provide(putOne, portOn("http://127.0.0.1:1", dataPlane)))
        assert.strictEqual(refused._tag, "KinesisConfigError")
        assert.isTrue(refused._tag === "KinesisConfigError" && refused.reason === "EndpointUnreachable")
        assert.isTrue(KinesisError.isRetryable(refused))
      }))
  }

  for (
    const [operation, call] of [
      ["getRecords", Effect.asVoid(Kinesis.getRecords({ shardIterator: "x" }))],
      ["putRecords", Effect.asVoid(putOne)],
      ["putRecord", Effect.asVoid(Kinesis.putRecord({ stream, data: new Uint8Array([1]), partitionKey: "k" }))]
    ] as const
  ) {
    it.scopedLive(`interrupting ${operation} aborts the HTTP request`, () =>
      Effect.gen(function*() {
        const server = yield* fakeServer(() => undefined) // never answers
        const arrived = yield* Deferred.make<Net.Socket>()
        server.onRequest((socket) => Deferred.unsafeDone(arrived, Effect.succeed(socket)))
        const fiber = yield* Effect.fork(Effect.provide(call, portOn(server.endpoint)))
        const socket = yield* Deferred.await(arrived)
        const closed = yield* Deferred.make<void>()
        socket.once("close", () => Deferred.unsafeDone(closed, Effect.void))
        yield* Fiber.interrupt(fiber)
        // without the abort signal the socket would stay open until the 30 s request timeout
        const result = yield* Deferred.await(closed).pipe(Effect.timeout("2 seconds"), Effect.either)
        assert.isTrue(result._tag === "Right", "the request's socket was not closed after interruption")
      }))
  }

  it.scopedLive("releasing the layer destroys the client and closes its connections", () =>
    Effect.gen(function*() {
      const local = yield* LocalKinesis.kinesalite()
      const connections = Effect.async<number>((resume) => {
        local.server.getConnections((_, count) => resume(Effect.succeed(count)))
      })
      const layerScope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(portOn(local.endpoint), layerScope)
      yield* Context.get(context, Kinesis.Kinesis).listStreams()
      assert.strictEqual(yield* connections, 1) // a keep-alive socket stays open while the client lives
      yield* Scope.close(layerScope, Exit.void)
      // the server sees the client's socket close (Node's server keep-alive timeout alone would take 5 s)
      const after = yield* connections.pipe(
        Effect.filterOrFail((n) => n === 0),
        Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("1 second"))),
        Effect.orElse(() => connections)
      )
      assert.strictEqual(after, 0)
    }))
})

describe("Kinesis.layerConfig", () => {
  const { endpoint, region } = inject("kinesalite")

  it.scopedLive("layerConfig(Kinesis.config) reads the endpoint, region and credentials from the environment", () =>
    Effect.gen(function*() {
      const streams = yield* Kinesis.listStreams.pipe(
        Effect.provide(Kinesis.layerConfig(Kinesis.config)),
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["KINESIS_ENDPOINT", endpoint],
            ["AWS_REGION", region],
            ["AWS_ACCESS_KEY_ID", "local"],
            ["AWS_SECRET_ACCESS_KEY", "local"]
          ])
        ))
      )
      assert.isArray(streams)
      const badConfig = yield* Effect.flip(
        Kinesis.listStreams.pipe(
          Effect.provide(Kinesis.layerConfig(Kinesis.config)),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["KINESIS_MAX_ATTEMPTS", "many"]])))
        )
      )
      assert.strictEqual(badConfig._tag, "ConfigError")
    }))

  it.scopedLive("layerConfig with one Config per option, under a Layer.setConfigProvider", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([["MY_ENDPOINT", endpoint], ["MY_REGION", region], ["MY_KEY", "local"], ["MY_SECRET", "local"]])
      )
      const layer = Kinesis.layerConfig({
        endpoint: Config.string("MY_ENDPOINT"),
        region: Config.string("MY_REGION"),
        credentials: Config.all({ accessKeyId: Config.string("MY_KEY"), secretAccessKey: Config.string("MY_SECRET") })
      }).pipe(Layer.provide(Layer.setConfigProvider(provider)))
      const streams = yield* Effect.provide(Kinesis.listStreams, layer)
      assert.isArray(streams)

      // a missing required variable fails the layer with a ConfigError naming it
      const missing = yield* Effect.flip(
        Kinesis.listStreams.pipe(
          Effect.provide(Kinesis.layerConfig({ endpoint: Config.string("MY_ENDPOINT") })),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "MY_ENDPOINT")
    }))

  it.scopedLive("layerConfig passes every option read to the client: maxAttempts makes the SDK's commands retry", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(() => ({ status: 500, type: "InternalFailureException" }))
      const provider = ConfigProvider.fromMap(
        new Map([["ENDPOINT", server.endpoint], ["ATTEMPTS", "2"], ["DATA_PLANE", "sdk"]])
      )
      const fromConfig = Kinesis.layerConfig({
        endpoint: Config.string("ENDPOINT"),
        region: Config.succeed("us-east-1"),
        credentials: Config.succeed(credentials),
        maxAttempts: Config.integer("ATTEMPTS"),
        dataPlane: Config.literal("cbor", "json", "sdk")("DATA_PLANE")
      })
      const listShards = Kinesis.listShards({ stream })
      const error = yield* Effect.flip(
        listShards.pipe(Effect.provide(fromConfig), Effect.withConfigProvider(provider))
      )
      assert.strictEqual(error._tag, "KinesisUnknownError")
      assert.deepStrictEqual(server.requests, ["Kinesis_20131202.ListShards", "Kinesis_20131202.ListShards"])
      // dataPlane "sdk" read from Config: PutRecords goes through the SDK's command, so it retries too
      server.requests.length = 0
      yield* Effect.flip(putOne.pipe(Effect.provide(fromConfig), Effect.withConfigProvider(provider)))
      assert.deepStrictEqual(server.requests, ["Kinesis_20131202.PutRecords", "Kinesis_20131202.PutRecords"])

      // the same through one Config of the whole options (maxAttempts 1 by default)
      server.requests.length = 0
      yield* Effect.flip(Effect.provide(
        listShards,
        Kinesis.layerConfig(Config.succeed({ endpoint: server.endpoint, region: "us-east-1", credentials }))
      ))
      assert.deepStrictEqual(server.requests, ["Kinesis_20131202.ListShards"])
    }))
})
