/**
 * A client that cannot reach Kinesis as configured fails with `KinesisConfigError` saying why — no
 * region, no credentials (naming where the SDK looked), an endpoint that cannot be reached (naming host
 * and port) — in every data plane, rather than with an unknown error and a network hint. A server that
 * denies access gives `AccessDenied` naming the IAM action.
 */
import { Kinesis, KinesisError, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"

const credentials = { accessKeyId: "local", secretAccessKey: "local" }
const stream = StreamAddress.unsafeMake("orders")
const put = Kinesis.putRecords({ stream, records: [{ data: new Uint8Array([1]), partitionKey: "k" }] })

/** A loopback port nothing listens on. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
)

/** Runs `f` with the AWS variables of this process replaced by `env` (restored after). */
const withEnv = <A, E, R>(env: Record<string, string | undefined>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved: Record<string, string | undefined> = {}
      for (const key of Object.keys(process.env)) {
        if (key.startsWith("AWS_")) {
          saved[key] = process.env[key]
          delete process.env[key]
        }
      }
      for (const [key, value] of Object.entries(env)) {
        saved[key] ??= process.env[key]
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key]
        for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value
      })
  )

const configError = (error: unknown): KinesisError.KinesisConfigError => {
  assert.isTrue(KinesisError.isKinesisError(error), String(error))
  const e = error as KinesisError.KinesisError
  assert.strictEqual(e._tag, "KinesisConfigError", e.message)
  return e as KinesisError.KinesisConfigError
}

describe("configuration failures", () => {
  for (const dataPlane of ["cbor", "json", "sdk"] as const) {
    it.live(`${dataPlane}: no region → KinesisConfigError RegionMissing, not retried`, () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const error = configError(
          yield* Effect.flip(put.pipe(
            Effect.provide(Kinesis.layer({ endpoint: `http://127.0.0.1:${port}`, credentials, dataPlane }))
          ))
        )
        assert.strictEqual(error.reason, "RegionMissing")
        assert.isFalse(error.retryable)
        assert.isFalse(KinesisError.isRetryable(error))
        assert.include(error.message, "AWS_REGION")
        assert.strictEqual(error.operation, "putRecords")
      }).pipe((effect) => withEnv({ AWS_CONFIG_FILE: "/nonexistent/config" }, effect)))

    it.live(`${dataPlane}: no credentials → CredentialsNotFound, naming where the SDK looked`, () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const error = configError(
          yield* Effect.flip(put.pipe(
            Effect.provide(Kinesis.layer({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", dataPlane }))
          ))
        )
        assert.strictEqual(error.reason, "CredentialsNotFound")
        assert.isFalse(error.retryable)
        for (const place of ["AWS_ACCESS_KEY_ID", "/nonexistent/credentials", "/nonexistent/config", "web identity"]) {
          assert.include(error.message, place)
        }
      }).pipe((effect) =>
        withEnv({
          AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
          AWS_CONFIG_FILE: "/nonexistent/config",
          AWS_EC2_METADATA_DISABLED: "true"
        }, effect)
      ))

    it.live(`${dataPlane}: a port nothing listens on → EndpointUnreachable naming host and port, retryable`, () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const error = configError(
          yield* Effect.flip(put.pipe(
            Effect.provide(
              Kinesis.layer({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", credentials, dataPlane })
            )
          ))
        )
        assert.strictEqual(error.reason, "EndpointUnreachable")
        assert.strictEqual(error.endpoint, `127.0.0.1:${port}`)
        assert.include(error.message, `127.0.0.1:${port}`)
        assert.isTrue(KinesisError.isRetryable(error))
      }))

    it.live(`${dataPlane}: a host that does not resolve → EndpointUnreachable naming host and port`, () =>
      Effect.gen(function*() {
        const error = configError(
          yield* Effect.flip(put.pipe(
            Effect.provide(
              Kinesis.layer({
                endpoint: "http://no-such-host.invalid:4567",
                region: "us-east-1",
                credentials,
                dataPlane
              })
            )
          ))
        )
        assert.strictEqual(error.reason, "EndpointUnreachable")
        assert.strictEqual(error.endpoint, "no-such-host.invalid:4567")
      }))
  }
})

/** A local server answering every request with AWS's AccessDeniedException (JSON, as AWS does for errors). */
const denyingServer = Effect.acquireRelease(
  Effect.async<Http.Server>((resume) => {
    const server = Http.createServer((req, res) => {
      req.resume()
      const action = String(req.headers["x-amz-target"] ?? "").replace("Kinesis_20131202.", "kinesis:")
      res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "req-denied" })
      res.end(JSON.stringify({
        __type: "AccessDeniedException",
        message: `User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ${action}`
      }))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`))

describe("access denied", () => {
  for (const dataPlane of ["cbor", "json", "sdk"] as const) {
    it.scopedLive(`${dataPlane}: AccessDeniedException → AccessDenied naming the operation and the IAM action`, () =>
      Effect.gen(function*() {
        const endpoint = yield* denyingServer
        const layer = Kinesis.layer({ endpoint, region: "us-east-1", credentials, dataPlane })
        const cases: ReadonlyArray<
          readonly [Effect.Effect<unknown, KinesisError.ServiceError, Kinesis.Kinesis>, string, string]
        > = [
          [put, "putRecords", "kinesis:PutRecords"],
          [Kinesis.getRecords({ shardIterator: "AAAA", stream }), "getRecords", "kinesis:GetRecords"],
          [Kinesis.listShards({ stream }), "listShards", "kinesis:ListShards"],
          [Kinesis.describeStreamSummary(stream), "describeStreamSummary", "kinesis:DescribeStreamSummary"]
        ]
        for (const [effect, operation, action] of cases) {
          const error = yield* Effect.flip(Effect.provide(effect, layer))
          assert.strictEqual(error._tag, "AccessDenied", error.message)
          if (error._tag !== "AccessDenied") continue
          assert.strictEqual(error.operation, operation)
          assert.strictEqual(error.action, action)
          assert.strictEqual(error.stream, "orders")
          assert.strictEqual(error.requestId, "req-denied")
          assert.include(error.message, `not authorized to perform: ${action}`)
          assert.isFalse(KinesisError.isRetryable(error))
        }
      }))
  }
})
