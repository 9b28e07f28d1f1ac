/**
 * The direct data plane (`dataPlane: "cbor" | "json"`) against a local HTTP server: the request on the
 * wire and its SigV4 signature, the responses mapped to the port's shapes, the error table, clock-skew
 * correction, and interruption aborting the HTTP request.
 */
import { Kinesis, type Kinesis as K, KinesisError, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { cbor, tag } from "@smithy/core/cbor"
import { Sha256 } from "@smithy/core/checksum"
import { HttpRequest } from "@smithy/core/protocols"
import { SignatureV4 } from "@smithy/signature-v4"
import { Context, Effect, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"

const credentials = { accessKeyId: "AKID", secretAccessKey: "SECRET" }
const region = "us-east-1"
const byName = StreamAddress.unsafeMake("orders")
const ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
const byArn = StreamAddress.unsafeMake(ARN)

type Format = "cbor" | "json"

const CONTENT_TYPE: Record<Format, string> = {
  cbor: "application/x-amz-cbor-1.1",
  json: "application/x-amz-json-1.1"
}

/** A body in the format, written by an encoder independent of the code under test. */
const encodeBody = (format: Format, value: unknown): Buffer =>
  format === "cbor" ? Buffer.from(cbor.serialize(value)) : Buffer.from(JSON.stringify(value), "utf8")

/** A request body read back by an independent decoder. */
const decodeBody = (format: Format, body: Buffer): Record<string, unknown> =>
  (format === "cbor" ? cbor.deserialize(body) : JSON.parse(body.toString("utf8"))) as Record<string, unknown>

/** One request the server received. */
interface Received {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
  /** Resolves when the request's socket closes. */
  readonly closed: Promise<void>
}

/** What the server answers: a status, headers and a body; `undefined` never answers. */
interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: Uint8Array | string
}

interface FakeServer {
  readonly endpoint: string
  readonly port: number
  readonly received: Array<Received>
}

/** A local server (127.0.0.1, port 0) answering each request with `respond(request, index)`. */
const fakeServer = (respond: (request: Received, index: number) => Answer | undefined) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; fake: FakeServer }>((resume) => {
      const received: Array<Received> = []
      // one promise per socket (a keep-alive socket carries many requests)
      const sockets = new WeakMap<Net.Socket, Promise<void>>()
      const server = Http.createServer((req, res) => {
        let closed = sockets.get(req.socket)
        if (closed === undefined) {
          closed = new Promise<void>((resolve) => req.socket.once("close", () => resolve()))
          sockets.set(req.socket, closed)
        }
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const request: Received = {
            method: req.method ?? "",
            url: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks),
            closed
          }
          received.push(request)
          const answer = respond(request, received.length - 1)
          if (answer === undefined) return // hang
          res.writeHead(answer.status, answer.headers ?? {})
          res.end(answer.body ?? "")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ server, fake: { endpoint: `http://127.0.0.1:${port}`, port, received } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))

const layerOn = (server: FakeServer, dataPlane: Format) =>
  Kinesis.layer({ endpoint: server.endpoint, region, credentials, dataPlane })

/** The port on the server, its client alive for the rest of the test's scope. */
const kinesisOn = (server: FakeServer, dataPlane: Format) =>
  Effect.map(Layer.build(layerOn(server, dataPlane)), Context.get(Kinesis.Kinesis))

/** An answer in the format, with a request id. */
const answer = (format: Format, status: number, value: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { "content-type": CONTENT_TYPE[format], "x-amzn-RequestId": "req-1", ...headers },
  body: encodeBody(format, value)
})

const putOk = (format: Format): Answer =>
  answer(format, 200, {
    FailedRecordCount: 0,
    Records: [{ ShardId: "shardId-000000000000", SequenceNumber: "1" }]
  })

const putRequest: K.PutRecordsRequest = {
  stream: byName,
  records: [
    { data: new Uint8Array([0, 1, 2, 255]), partitionKey: "k1" },
    { data: new Uint8Array([42]), partitionKey: "ünï", explicitHashKey: "170141183460469231731687303715884105728" }
  ]
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=AKID\/(\d{8})\/us-east-1\/kinesis\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/

/** `x-amz-date` (`YYYYMMDDTHHMMSSZ`) as a Date. */
const amzDate = (request: Received): Date => {
  const raw = String(request.headers["x-amz-date"])
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(raw)
  assert.isNotNull(m, `x-amz-date ${raw}`)
  const [, y, mo, d, h, mi, s] = m!
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`)
}

/**
 * The authorization header SigV4 computes for the request as received (its signed headers, path and
 * body, at its `x-amz-date`), with `secretAccessKey`.
 */
const resign = (request: Received, port: number, body: Uint8Array, secretAccessKey = credentials.secretAccessKey) =>
  Effect.promise(async () => {
    const m = AUTHORIZATION.exec(String(request.headers.authorization))
    assert.isNotNull(m, String(request.headers.authorization))
    const headers: Record<string, string> = {}
    for (const name of m![2]!.split(";")) {
      // the signer derives the payload hash from the body (so a changed body changes the signature)
      if (name !== "x-amz-content-sha256") headers[name] = String(request.headers[name])
    }
    const signer = new SignatureV4({
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey },
      region,
      service: "kinesis",
      sha256: Sha256,
      uriEscapePath: true
    })
    const signed = await signer.sign(
      new HttpRequest({
        method: request.method,
        protocol: "http:",
        hostname: "127.0.0.1",
        port,
        path: request.url,
        headers,
        body
      }),
      { signingDate: amzDate(request) }
    )
    return String(signed.headers.authorization)
  })

/** Checks the request's signature: SignatureV4 over what the server received gives the same header. */
const assertSigned = (request: Received, port: number) =>
  Effect.gen(function*() {
    const authorization = String(request.headers.authorization)
    const m = AUTHORIZATION.exec(authorization)
    assert.isNotNull(m, authorization)
    const signedHeaders = m![2]!.split(";")
    for (const name of ["content-type", "host", "x-amz-date", "x-amz-target"]) {
      assert.include(signedHeaders, name, `${name} is signed`)
    }
    assert.strictEqual(m![1], String(request.headers["x-amz-date"]).slice(0, 8), "credential scope date")
    const payloadHash = request.headers["x-amz-content-sha256"]
    if (payloadHash !== undefined) {
      assert.strictEqual(payloadHash, Crypto.createHash("sha256").update(request.body).digest("hex"), "payload hash")
    }
    assert.strictEqual(yield* resign(request, port, request.body), authorization, "the signature verifies")
    // the check can fail: another body or another secret gives another signature
    assert.notStrictEqual(yield* resign(request, port, Buffer.concat([request.body, Buffer.from(" ")])), authorization)
    assert.notStrictEqual(yield* resign(request, port, request.body, "OTHER"), authorization)
  })

for (const format of ["cbor", "json"] as const) {
  describe(`dataPlane: "${format}"`, () => {
    it.scopedLive("PutRecords: POST / with the content type, target, SigV4 signature and the records", () =>
      Effect.gen(function*() {
        const server = yield* fakeServer(() =>
          answer(format, 200, {
            FailedRecordCount: 1,
            EncryptionType: "KMS",
            Records: [
              {
                ShardId: "shardId-000000000001",
                SequenceNumber: "49590338271490256608559692538361571095921575989136588898"
              },
              { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard" }
            ]
          })
        )
        const out = yield* Kinesis.putRecords(putRequest).pipe(Effect.provide(layerOn(server, format)))
        assert.deepStrictEqual(out, {
          failedRecordCount: 1,
          encryptionType: "KMS",
          records: [
            {
              _tag: "Success",
              shardId: "shardId-000000000001",
              sequenceNumber: "49590338271490256608559692538361571095921575989136588898"
            },
            {
              _tag: "Failure",
              errorCode: "ProvisionedThroughputExceededException",
              errorMessage: "Rate exceeded for shard"
            }
          ]
        })

        assert.strictEqual(server.received.length, 1)
        const request = server.received[0]!
        assert.strictEqual(request.method, "POST")
        assert.strictEqual(request.url, "/")
        assert.strictEqual(request.headers["content-type"], CONTENT_TYPE[format])
        assert.strictEqual(request.headers["x-amz-target"], "Kinesis_20131202.PutRecords")
        assert.strictEqual(request.headers.host, `127.0.0.1:${server.port}`)
        assert.strictEqual(request.headers["content-length"], String(request.body.length))
        const now = Date.now()
        assert.isTrue(Math.abs(amzDate(request).getTime() - now) < 60_000, "x-amz-date is now")
        yield* assertSigned(request, server.port)

        const body = decodeBody(format, request.body) as {
          Records: Array<{ Data: Uint8Array | string; PartitionKey: string; ExplicitHashKey?: string }>
          StreamName: string
        }
        assert.deepStrictEqual(Object.keys(body).sort(), ["Records", "StreamName"])
        assert.strictEqual(body.StreamName, "orders")
        assert.deepStrictEqual(
          body.Records.map((r) => ({
            ...r,
            Data: Array.from(typeof r.Data === "string" ? Buffer.from(r.Data, "base64") : r.Data)
          })),
          [
            { Data: [0, 1, 2, 255], PartitionKey: "k1" },
            { Data: [42], PartitionKey: "ünï", ExplicitHashKey: "170141183460469231731687303715884105728" }
          ]
        )
        if (format === "cbor") assert.instanceOf(body.Records[0]!.Data, Uint8Array, "CBOR sends raw bytes")
        else assert.isString(body.Records[0]!.Data, "JSON sends base64")
      }))

    it.scopedLive("GetRecords: the request (Limit, StreamARN) and the response mapped to the port's shape", () =>
      Effect.gen(function*() {
        const ms = 1700000000123
        const server = yield* fakeServer(() =>
          answer(format, 200, {
            Records: [
              {
                SequenceNumber: "1",
                // AWS: CBOR carries epoch milliseconds (tag 1), JSON epoch seconds with a fraction
                ApproximateArrivalTimestamp: format === "cbor" ? tag({ tag: 1, value: ms }) : ms / 1000,
                Data: format === "cbor" ? new Uint8Array([1, 2, 3]) : Buffer.from([1, 2, 3]).toString("base64"),
                PartitionKey: "pk",
                EncryptionType: "KMS"
              },
              {
                SequenceNumber: "2",
                ApproximateArrivalTimestamp: format === "cbor" ? ms + 1 : (ms + 1) / 1000,
                Data: format === "cbor" ? new Uint8Array(0) : "",
                PartitionKey: "pk2"
              }
            ],
            MillisBehindLatest: 1234,
            ChildShards: [{
              ShardId: "shardId-000000000002",
              ParentShards: ["shardId-000000000000", "shardId-000000000001"],
              HashKeyRange: { StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455" }
            }]
          })
        )
        const out = yield* Kinesis.getRecords({ shardIterator: "AAAA+iterator/=", limit: 500, stream: byArn }).pipe(
          Effect.provide(layerOn(server, format))
        )
        assert.strictEqual(out.records.length, 2)
        const [first, second] = out.records
        assert.deepStrictEqual(Array.from(first!.data), [1, 2, 3])
        assert.instanceOf(first!.data, Uint8Array)
        assert.strictEqual(first!.sequenceNumber, "1")
        assert.strictEqual(first!.partitionKey, "pk")
        assert.strictEqual(first!.encryptionType, "KMS")
        assert.instanceOf(first!.approximateArrivalTimestamp, Date)
        assert.strictEqual(first!.approximateArrivalTimestamp.getTime(), ms)
        assert.strictEqual(second!.approximateArrivalTimestamp.getTime(), ms + 1)
        assert.strictEqual(second!.data.length, 0)
        assert.isUndefined(second!.encryptionType)
        assert.isUndefined(out.nextShardIterator)
        assert.strictEqual(out.millisBehindLatest, 1234)
        assert.deepStrictEqual(out.childShards, [{
          shardId: "shardId-000000000002",
          parentShards: ["shardId-000000000000", "shardId-000000000001"],
          hashKeyRange: { startingHashKey: "0", endingHashKey: "340282366920938463463374607431768211455" }
        }])

        const request = server.received[0]!
        assert.strictEqual(request.method, "POST")
        assert.strictEqual(request.url, "/")
        assert.strictEqual(request.headers["content-type"], CONTENT_TYPE[format])
        assert.strictEqual(request.headers["x-amz-target"], "Kinesis_20131202.GetRecords")
        yield* assertSigned(request, server.port)
        assert.deepStrictEqual(decodeBody(format, request.body), {
          ShardIterator: "AAAA+iterator/=",
          Limit: 500,
          StreamARN: ARN
        })

        // a next iterator and no child shards, without Limit or stream
        const next = yield* fakeServer(() =>
          answer(format, 200, { Records: [], NextShardIterator: "next-iterator", MillisBehindLatest: 0 })
        )
        const open = yield* Kinesis.getRecords({ shardIterator: "it" }).pipe(Effect.provide(layerOn(next, format)))
        assert.deepStrictEqual(open, {
          records: [],
          nextShardIterator: "next-iterator",
          millisBehindLatest: 0,
          childShards: undefined
        })
        assert.deepStrictEqual(decodeBody(format, next.received[0]!.body), { ShardIterator: "it" })
      }))

    it.scopedLive("maps the service's errors to tagged errors with operation, stream, message and request id", () =>
      Effect.gen(function*() {
        let next: Answer = { status: 500 }
        const server = yield* fakeServer(() => next)
        const kinesis = yield* kinesisOn(server, format)
        const put = Effect.flip(kinesis.putRecords(putRequest))
        const get = Effect.flip(kinesis.getRecords({ shardIterator: "it", stream: byName }))

        interface Case {
          readonly name: string
          readonly answer: Answer
          readonly call: Effect.Effect<KinesisError.ServiceError, unknown>
          readonly operation: string
          readonly tag: KinesisError.ServiceError["_tag"]
          readonly message: string
          readonly kind?: string
          readonly retryable?: boolean
          readonly unknownName?: string
        }
        const service = (
          type: string,
          call: "put" | "get",
          expected: KinesisError.ServiceError["_tag"],
          kind?: string
        ) =>
          ({
            name: `${type} (${call})`,
            answer: answer(format, 400, { __type: type, message: `fake ${type}` }, {
              "x-amzn-RequestId": `id-${type}`
            }),
            call: call === "put" ? put : get,
            operation: call === "put" ? "putRecords" : "getRecords",
            tag: expected,
            message: `fake ${type}`,
            ...(kind === undefined ? {} : { kind })
          }) satisfies Case
        const cases: ReadonlyArray<Case> = [
          service("ProvisionedThroughputExceededException", "put", "ProvisionedThroughputExceeded"),
          service("ProvisionedThroughputExceededException", "get", "ProvisionedThroughputExceeded"),
          service("LimitExceededException", "put", "LimitExceeded"),
          service("LimitExceededException", "get", "LimitExceeded"),
          service("ExpiredIteratorException", "get", "ExpiredIterator"),
          service("ResourceNotFoundException", "put", "ResourceNotFound"),
          service("ResourceNotFoundException", "get", "ResourceNotFound"),
          service("AccessDeniedException", "put", "AccessDenied"),
          service("ValidationException", "put", "InvalidArgument"),
          service("InvalidArgumentException", "put", "InvalidArgument"),
          service("InvalidArgumentException", "get", "InvalidArgument"),
          service("KMSThrottlingException", "put", "KmsError", "KMSThrottlingException"),
          service("KMSAccessDeniedException", "get", "KmsError", "KMSAccessDeniedException"),
          // the name with its namespace, as AWS's JSON protocol may send it
          {
            ...service("aws.kinesis#ResourceNotFoundException", "put", "ResourceNotFound"),
            message: "fake aws.kinesis#ResourceNotFoundException"
          },
          // not a PutRecords error: the declared union holds
          { ...service("ExpiredIteratorException", "put", "KinesisUnknownError"), retryable: false },
          {
            name: "x-amzn-ErrorType header",
            answer: answer(format, 400, { message: "Rate exceeded for shard shardId-000000000000" }, {
              "x-amzn-ErrorType":
                "aws.kinesis#ProvisionedThroughputExceededException:http://internal.amazon.com/coral/com.amazon.coral.service/",
              "x-amzn-RequestId": "id-header"
            }),
            call: put,
            operation: "putRecords",
            tag: "ProvisionedThroughputExceeded",
            message: "Rate exceeded for shard shardId-000000000000"
          },
          {
            name: "x-amzn-ErrorType header, Message field",
            answer: answer(format, 400, { Message: "capital message" }, {
              "x-amzn-ErrorType": "ExpiredIteratorException:http://internal.amazon.com/coral/com.amazon.coral.service/",
              "x-amzn-RequestId": "id-header2"
            }),
            call: get,
            operation: "getRecords",
            tag: "ExpiredIterator",
            message: "capital message"
          },
          {
            name: "500, empty body",
            answer: { status: 500, headers: { "x-amzn-RequestId": "id-500" } },
            call: put,
            operation: "putRecords",
            tag: "KinesisUnknownError",
            message: "HTTP 500",
            retryable: true,
            unknownName: "InternalFailure"
          },
          {
            name: "503, empty body",
            answer: { status: 503, headers: { "x-amzn-RequestId": "id-503" } },
            call: get,
            operation: "getRecords",
            tag: "KinesisUnknownError",
            message: "HTTP 503",
            retryable: true,
            unknownName: "ServiceUnavailable"
          },
          {
            name: "500 with InternalFailure",
            answer: answer(format, 500, { __type: "InternalFailure", message: "internal" }, {
              "x-amzn-RequestId": "id-if"
            }),
            call: get,
            operation: "getRecords",
            tag: "KinesisUnknownError",
            message: "internal",
            retryable: true,
            unknownName: "InternalFailure"
          },
          {
            name: "400 with a body that is not the format",
            answer: {
              status: 400,
              headers: { "content-type": CONTENT_TYPE[format], "x-amzn-RequestId": "id-junk" },
              body: "<html>Bad Request</html>"
            },
            call: put,
            operation: "putRecords",
            tag: "KinesisUnknownError",
            message: "HTTP 400",
            retryable: false,
            unknownName: "Http400"
          }
        ]
        for (const c of cases) {
          next = c.answer
          const before = server.received.length
          const error = yield* c.call
          assert.strictEqual(server.received.length, before + 1, `${c.name}: one request, no retry`)
          assert.strictEqual(error._tag, c.tag, c.name)
          assert.strictEqual(error.operation, c.operation, c.name)
          assert.strictEqual(error.stream, "orders", c.name)
          assert.strictEqual(error.message, c.message, c.name)
          assert.strictEqual(error.requestId, c.answer.headers?.["x-amzn-RequestId"], c.name)
          if (c.kind !== undefined) assert.strictEqual(error._tag === "KmsError" ? error.kind : "", c.kind, c.name)
          if (error._tag === "KinesisUnknownError") {
            assert.strictEqual(error.retryable, c.retryable, c.name)
            if (c.unknownName !== undefined) assert.strictEqual(error.name, c.unknownName, c.name)
            assert.strictEqual(KinesisError.isRetryable(error), c.retryable, c.name)
          }
        }
        // throttling is retryable, for catchTag and the helpers
        next = cases[0]!.answer
        const throttled = yield* put
        assert.isTrue(KinesisError.isThrottling(throttled))
        assert.isTrue(KinesisError.isRetryable(throttled))
      }))

    it.scopedLive("a 200 whose body is not the format fails with KinesisUnknownError, not a defect", () =>
      Effect.gen(function*() {
        let body: string | Uint8Array = "<html>not the format</html>"
        const server = yield* fakeServer(() => ({
          status: 200,
          headers: { "content-type": CONTENT_TYPE[format], "x-amzn-RequestId": "id-bad" },
          body
        }))
        const kinesis = yield* kinesisOn(server, format)
        for (
          const call of [
            Effect.asVoid(kinesis.putRecords(putRequest)),
            Effect.asVoid(kinesis.getRecords({ shardIterator: "it", stream: byName }))
          ]
        ) {
          const exit = yield* Effect.exit(call)
          assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail", "a typed failure, not a defect")
          const error = yield* Effect.flip(call)
          assert.strictEqual(error._tag, "KinesisUnknownError")
          assert.strictEqual(error.stream, "orders")
          assert.strictEqual(error._tag === "KinesisUnknownError" ? error.retryable : undefined, false)
          assert.isAbove(error.message.length, 0)
        }
        // well-formed, but not the operation's shape (no Records)
        body = encodeBody(format, { Unexpected: true })
        const error = yield* Effect.flip(kinesis.putRecords(putRequest))
        assert.strictEqual(error._tag, "KinesisUnknownError")
        assert.strictEqual(error._tag === "KinesisUnknownError" ? error.name : "", "SerializationException")
        // truncated CBOR / JSON
        body = encodeBody(format, { Records: [] }).subarray(0, 5)
        const truncated = yield* Effect.flip(kinesis.getRecords({ shardIterator: "it", stream: byName }))
        assert.strictEqual(truncated._tag, "KinesisUnknownError")
      }))

    it.scopedLive("a body sent in many pieces arrives whole; one cut off before its end fails retryably", () =>
      Effect.gen(function*() {
        const records = Array.from({ length: 200 }, (_, i) => ({
          SequenceNumber: String(i),
          ApproximateArrivalTimestamp: format === "cbor" ? 1700000000000 + i : 1700000000 + i / 1000,
          Data: format === "cbor" ? new Uint8Array(300).fill(i) : Buffer.alloc(300, i).toString("base64"),
          PartitionKey: `k${i}`
        }))
        const body = encodeBody(format, { Records: records, NextShardIterator: "next", MillisBehindLatest: 0 })
        let cut = false
        const server = yield* Effect.acquireRelease(
          Effect.async<Http.Server & { port: number }>((resume) => {
            const server = Http.createServer((req, res) => {
              req.resume()
              req.on("end", () => {
                res.writeHead(200, { "content-type": CONTENT_TYPE[format], "content-length": String(body.length) })
                // a piece at a time, each in its own write and TCP segment (no chunked encoding)
                let at = 0
                const next = () => {
                  if (cut && at > body.length / 2) return res.socket?.destroy()
                  if (at >= body.length) return res.end()
                  res.write(body.subarray(at, at + 1000))
                  at += 1000
                  setTimeout(next, 1)
                }
                next()
              })
            })
            server.listen(
              0,
              "127.0.0.1",
              () => resume(Effect.succeed(Object.assign(server, { port: (server.address() as Net.AddressInfo).port })))
            )
          }),
          (server) =>
            Effect.async<void>((resume) => {
              server.closeAllConnections()
              server.close(() => resume(Effect.void))
            })
        )
        const kinesis = yield* Effect.map(
          Layer.build(
            Kinesis.layer({ endpoint: `http://127.0.0.1:${server.port}`, region, credentials, dataPlane: format })
          ),
          Context.get(Kinesis.Kinesis)
        )
        const out = yield* kinesis.getRecords({ shardIterator: "it", stream: byName })
        assert.strictEqual(out.records.length, 200)
        for (let i = 0; i < 200; i++) {
          const data = out.records[i]!.data
          assert.strictEqual(data.length, 300)
          assert.isTrue(data.every((b) => b === i), `record ${i}`)
        }
        assert.strictEqual(out.nextShardIterator, "next")

        cut = true
        const error = yield* Effect.flip(kinesis.getRecords({ shardIterator: "it", stream: byName }))
        assert.strictEqual(error._tag, "KinesisUnknownError")
        assert.isTrue(error._tag === "KinesisUnknownError" && error.retryable, "a network failure is retried")
      }))

    it.scopedLive("clock skew: a request rejected for its time is signed again once with the server's clock", () =>
      Effect.gen(function*() {
        const serverDate = () => new Date(Date.now() + 3_600_000).toUTCString()
        const server = yield* fakeServer((_, index) =>
          index === 0
            ? answer(format, 400, { __type: "InvalidSignatureException", message: "Signature expired" }, {
              date: serverDate()
            })
            : { ...putOk(format), headers: { ...putOk(format).headers, date: serverDate() } }
        )
        const out = yield* Kinesis.putRecords(putRequest).pipe(Effect.provide(layerOn(server, format)))
        assert.strictEqual(out.records[0]?._tag, "Success")
        assert.strictEqual(server.received.length, 2)
        const [first, second] = server.received
        const ahead = amzDate(second!).getTime() - amzDate(first!).getTime()
        assert.isTrue(Math.abs(ahead - 3_600_000) < 10_000, `the second request is ${ahead} ms ahead`)
        yield* assertSigned(second!, server.port)
        assert.deepStrictEqual(second!.body, first!.body)
      }))

    it.scopedLive("clock skew: re-signed once only, and a skew error without a skewed Date is not retried", () =>
      Effect.gen(function*() {
        const server = yield* fakeServer(() =>
          answer(format, 400, { __type: "InvalidSignatureException", message: "Signature expired" }, {
            date: new Date(Date.now() + 3_600_000).toUTCString()
          })
        )
        const kinesis = yield* kinesisOn(server, format)
        const error = yield* Effect.flip(kinesis.putRecords(putRequest))
        assert.strictEqual(error._tag, "KinesisUnknownError")
        assert.strictEqual(error._tag === "KinesisUnknownError" ? error.name : "", "InvalidSignatureException")
        // the retry is already at the server's time: its answer is no longer skewed, so no third request
        assert.strictEqual(server.received.length, 2)
        // the client keeps the offset: the next call is signed at the server's time from the start
        server.received.length = 0
        yield* Effect.flip(kinesis.getRecords({ shardIterator: "it" }))
        assert.strictEqual(server.received.length, 1)
        const ahead = amzDate(server.received[0]!).getTime() - Date.now()
        assert.isTrue(Math.abs(ahead - 3_600_000) < 10_000, `signed ${ahead} ms ahead`)
      }))

    for (const operation of ["putRecords", "getRecords"] as const) {
      it.scopedLive(`interrupting ${operation} aborts the HTTP request`, () =>
        Effect.gen(function*() {
          const server = yield* fakeServer(() => undefined) // never answers
          // the client stays alive (its sockets open) until the end of the test
          const kinesis = yield* kinesisOn(server, format)
          const call = operation === "putRecords"
            ? Effect.asVoid(kinesis.putRecords(putRequest))
            : Effect.asVoid(kinesis.getRecords({ shardIterator: "it" }))
          const result = yield* call.pipe(Effect.timeout("200 millis"), Effect.either)
          assert.isTrue(result._tag === "Left" && result.left._tag === "TimeoutException", "the call timed out")
          assert.strictEqual(server.received.length, 1)
          // without the abort signal the socket would stay open until the 30 s request timeout
          const closed = yield* Effect.promise(() => server.received[0]!.closed).pipe(
            Effect.timeout("2 seconds"),
            Effect.either
          )
          assert.isTrue(closed._tag === "Right", "the request's socket was not closed after interruption")
        }))
    }
  })
}
