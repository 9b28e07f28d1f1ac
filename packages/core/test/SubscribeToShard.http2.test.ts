/**
 * `Kinesis.fromClient(...).subscribeToShard` over HTTP/2, the transport the SDK uses against AWS
 * (local servers speak HTTP/1.1 only): a cleartext HTTP/2 server answers SubscribeToShard as AWS does,
 * with a `application/vnd.amazon.eventstream` body of AWS event-stream messages (an `initial-response`,
 * then `SubscribeToShardEvent`s, or an exception message), which the SDK's awsJson1_1 protocol decodes
 * and the port maps to its `SubscribeToShardEvent`s and typed errors.
 */
import { KinesisClient } from "@aws-sdk/client-kinesis"
import { Kinesis } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { EventStreamCodec } from "@smithy/core/event-streams"
import { HttpRequest } from "@smithy/core/protocols"
import { fromUtf8, toUtf8 } from "@smithy/core/serde"
import { NodeHttp2Handler } from "@smithy/node-http-handler"
import { SignatureV4 } from "@smithy/signature-v4"
import { Chunk, Deferred, Effect, Either, Exit, Fiber, Option, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Http2 from "node:http2"
import type * as Net from "node:net"

const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" }
const consumerARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/billing:1700000000"
const shardId = "shardId-000000000000"
const startAfter = "49590338271490256608559692538361571095921575989136588800"
const request: Kinesis.SubscribeToShardRequest = {
  consumerARN,
  shardId,
  position: { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: startAfter }
}

// ---------------------------------------------------------------------------------------------
// the AWS event-stream framing
// ---------------------------------------------------------------------------------------------

const codec = new EventStreamCodec(toUtf8, fromUtf8)

const frame = (headers: Record<string, string>, payload: unknown): Uint8Array =>
  codec.encode({
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name, { type: "string" as const, value }])
    ),
    body: fromUtf8(JSON.stringify(payload))
  })

/** The first message of every subscription: the (empty) SubscribeToShardOutput. */
const initialResponse = (): Uint8Array =>
  frame({ ":message-type": "event", ":event-type": "initial-response", ":content-type": "application/json" }, {})

/** A `SubscribeToShardEvent` message, its payload as AWS's JSON (Data base64, timestamps in epoch seconds). */
const eventFrame = (payload: unknown): Uint8Array =>
  frame({
    ":message-type": "event",
    ":event-type": "SubscribeToShardEvent",
    ":content-type": "application/json"
  }, payload)

/** An exception carried in the event stream (after the 200 response). */
const exceptionFrame = (type: string, message: string): Uint8Array =>
  frame({ ":message-type": "exception", ":exception-type": type, ":content-type": "application/json" }, {
    message
  })

// ---------------------------------------------------------------------------------------------
// the HTTP/2 server
// ---------------------------------------------------------------------------------------------

interface Received {
  readonly headers: Http2.IncomingHttpHeaders
  readonly body: string
}

interface Http2Server {
  readonly endpoint: string
  /** The SubscribeToShard requests received, in order. */
  readonly received: Array<Received>
}

/** What the server does with one request: answer on its stream (or keep it open). */
type Handler = (stream: Http2.ServerHttp2Stream, received: Received) => void

/** A cleartext (h2c) HTTP/2 server on a free loopback port; closed (its sessions destroyed) with the scope. */
const http2Server = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http2.Http2Server; sessions: Set<Http2.ServerHttp2Session>; fake: Http2Server }>(
      (resume) => {
        const received: Array<Received> = []
        const sessions = new Set<Http2.ServerHttp2Session>()
        const server = Http2.createServer()
        server.on("session", (session) => {
          sessions.add(session)
          session.on("close", () => sessions.delete(session))
        })
        server.on("stream", (stream, headers) => {
          const chunks: Array<Buffer> = []
          stream.on("data", (chunk: Buffer) => chunks.push(chunk))
          stream.on("end", () => {
            const request = { headers, body: Buffer.concat(chunks).toString("utf8") }
            received.push(request)
            handler(stream, request)
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          resume(Effect.succeed({ server, sessions, fake: { endpoint: `http://127.0.0.1:${port}`, received } }))
        })
      }
    ),
    ({ server, sessions }) =>
      Effect.async<void>((resume) => {
        for (const session of sessions) session.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))

/** A 200 SubscribeToShard response (an event stream), its headers sent. */
const respondEventStream = (stream: Http2.ServerHttp2Stream): void =>
  stream.respond({
    ":status": 200,
    "content-type": "application/vnd.amazon.eventstream",
    "x-amzn-requestid": "req-subscribe-1"
  })

/** The client a user builds for AWS, on HTTP/2; destroyed with the scope. */
const http2Client = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new KinesisClient({
        region: "us-east-1",
        endpoint,
        credentials,
        maxAttempts: 1,
        requestHandler: new NodeHttp2Handler()
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

/** The port over a fresh HTTP/2 server answering with `handler`. */
const setup = (handler: Handler) =>
  Effect.gen(function*() {
    const server = yield* http2Server(handler)
    const client = yield* http2Client(server.endpoint)
    return { server, port: Kinesis.fromClient(client) }
  })

interface Closed {
  /** Whether the stream was reset before the server ended its response. */
  readonly aborted: boolean
  readonly rstCode: number
}

/** Resolves when the server's stream closes (watched from the moment the request arrives). */
const watchClose = (stream: Http2.ServerHttp2Stream): Promise<Closed> =>
  new Promise((resolve) => {
    let aborted = false
    stream.on("aborted", () => {
      aborted = true
    })
    stream.on("error", () => undefined)
    stream.on("close", () => resolve({ aborted, rstCode: stream.rstCode }))
  })

/** SHA-256 (and HMAC-SHA256 with a secret) for `SignatureV4`, on node:crypto. */
class Sha256 {
  private readonly hash: Crypto.Hash | Crypto.Hmac
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? Crypto.createHash("sha256") : Crypto.createHmac("sha256", bytes(secret))
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Buffer =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data)

/** `20261205T103549Z` → its Date. */
const signingDate = (amzDate: string): Date =>
  new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${
      amzDate.slice(11, 13)
    }:${amzDate.slice(13, 15)}Z`
  )

// ---------------------------------------------------------------------------------------------
// the data
// ---------------------------------------------------------------------------------------------

const seq = (n: number) => `4959033827149025660855969253836157109592157598913658${(8801 + n).toString()}`

const small = new TextEncoder().encode("hello, kinesis")
const empty = new Uint8Array(0)
// 1 MiB, every byte value, so a base64 or framing slip shows
const large = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31 + (i >>> 10)) & 0xff)

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")

const childShards = [
  {
    ShardId: "shardId-000000000001",
    ParentShards: [shardId],
    HashKeyRange: { StartingHashKey: "0", EndingHashKey: "170141183460469231731687303715884105727" }
  },
  {
    ShardId: "shardId-000000000002",
    ParentShards: [shardId],
    HashKeyRange: {
      StartingHashKey: "170141183460469231731687303715884105728",
      EndingHashKey: "340282366920938463463374607431768211455"
    }
  }
]

/** The three events AWS would push for the end of a shard: two with records, then the closing one. */
const awsEvents = [
  {
    Records: [
      {
        SequenceNumber: seq(1),
        ApproximateArrivalTimestamp: 1700000000.123,
        Data: base64(small),
        PartitionKey: "order-1"
      },
      {
        SequenceNumber: seq(2),
        ApproximateArrivalTimestamp: 1700000001,
        Data: base64(empty),
        PartitionKey: "order-2",
        EncryptionType: "KMS"
      }
    ],
    ContinuationSequenceNumber: seq(2),
    MillisBehindLatest: 1500
  },
  {
    Records: [
      {
        SequenceNumber: seq(3),
        ApproximateArrivalTimestamp: 1700000002.5,
        Data: base64(large),
        PartitionKey: "order-3",
        EncryptionType: "NONE"
      }
    ],
    ContinuationSequenceNumber: seq(3),
    MillisBehindLatest: 0
  },
  { Records: [], MillisBehindLatest: 0, ChildShards: childShards }
]

/** What the port must decode `awsEvents` to (records' data as base64, compared separately as bytes). */
const expectedEvents: ReadonlyArray<Comparable> = [
  {
    records: [
      {
        sequenceNumber: seq(1),
        approximateArrivalTimestamp: new Date(1700000000123),
        data: base64(small),
        partitionKey: "order-1",
        encryptionType: undefined
      },
      {
        sequenceNumber: seq(2),
        approximateArrivalTimestamp: new Date(1700000001000),
        data: "",
        partitionKey: "order-2",
        encryptionType: "KMS"
      }
    ],
    continuationSequenceNumber: seq(2),
    millisBehindLatest: 1500,
    childShards: undefined
  },
  {
    records: [
      {
        sequenceNumber: seq(3),
        approximateArrivalTimestamp: new Date(1700000002500),
        data: base64(large),
        partitionKey: "order-3",
        encryptionType: "NONE"
      }
    ],
    continuationSequenceNumber: seq(3),
    millisBehindLatest: 0,
    childShards: undefined
  },
  {
    records: [],
    continuationSequenceNumber: undefined,
    millisBehindLatest: 0,
    childShards: [
      {
        shardId: "shardId-000000000001",
        parentShards: [shardId],
        hashKeyRange: { startingHashKey: "0", endingHashKey: "170141183460469231731687303715884105727" }
      },
      {
        shardId: "shardId-000000000002",
        parentShards: [shardId],
        hashKeyRange: {
          startingHashKey: "170141183460469231731687303715884105728",
          endingHashKey: "340282366920938463463374607431768211455"
        }
      }
    ]
  }
]

type Comparable = ReturnType<typeof comparable>

const comparable = (event: Kinesis.SubscribeToShardEvent) => ({
  ...event,
  records: event.records.map((record) => ({ ...record, data: base64(record.data) }))
})

/** Writes the frames with a pause between them, so each arrives as the SDK reads it (not all in one chunk). */
const writeSpaced = (stream: Http2.ServerHttp2Stream, frames: ReadonlyArray<Uint8Array>, then: () => void) => {
  const [first, ...rest] = frames
  if (first === undefined) return then()
  stream.write(first, () => setTimeout(() => writeSpaced(stream, rest, then), 5))
}

// ---------------------------------------------------------------------------------------------
// the tests
// ---------------------------------------------------------------------------------------------

describe("subscribeToShard over HTTP/2 (SDK port)", () => {
  it.scopedLive("decodes AWS event-stream events to SubscribeToShardEvents and ends with the response", () =>
    Effect.gen(function*() {
      const { port } = yield* setup((stream) => {
        respondEventStream(stream)
        writeSpaced(stream, [initialResponse(), ...awsEvents.map(eventFrame)], () => stream.end())
      })
      const events = Chunk.toReadonlyArray(
        yield* port.subscribeToShard(request).pipe(Stream.runCollect, Effect.timeout("10 seconds"))
      )
      assert.strictEqual(events.length, 3)
      for (const event of events) {
        for (const record of event.records) assert.instanceOf(record.data, Uint8Array)
      }
      // the bytes themselves (the deep comparison below is of their base64)
      assert.strictEqual(events[0].records[1].data.byteLength, 0)
      assert.strictEqual(events[1].records[0].data.byteLength, 1024 * 1024)
      assert.isTrue(Buffer.from(events[1].records[0].data).equals(Buffer.from(large)))
      assert.deepStrictEqual(events.map(comparable), expectedEvents)
      // the shard's end: no continuation, the children named
      assert.isUndefined(events[2].continuationSequenceNumber)
      assert.strictEqual(events[2].childShards?.length, 2)
    }))

  it.scopedLive("sends the signed SubscribeToShard request AWS expects", () =>
    Effect.gen(function*() {
      const { port, server } = yield* setup((stream) => {
        respondEventStream(stream)
        stream.end(initialResponse())
      })
      const events = yield* port.subscribeToShard(request).pipe(Stream.runCollect, Effect.timeout("10 seconds"))
      assert.strictEqual(Chunk.size(events), 0)
      assert.strictEqual(server.received.length, 1)
      const { body, headers } = server.received[0]
      assert.strictEqual(headers[":method"], "POST")
      assert.strictEqual(headers[":path"], "/")
      assert.strictEqual(headers[":scheme"], "http")
      assert.strictEqual(headers[":authority"], server.endpoint.replace("http://", ""))
      assert.strictEqual(headers["x-amz-target"], "Kinesis_20131202.SubscribeToShard")
      assert.strictEqual(headers["content-type"], "application/x-amz-json-1.1")
      assert.deepStrictEqual(JSON.parse(body), {
        ConsumerARN: consumerARN,
        ShardId: shardId,
        StartingPosition: { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: startAfter }
      })
      // SigV4 over HTTP/2 signs `:authority` where HTTP/1.1 signs `host`
      const authorization = String(headers["authorization"])
      const parts =
        /^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/(\d{8})\/us-east-1\/kinesis\/aws4_request, SignedHeaders=([a-z0-9;:-]+), Signature=[0-9a-f]{64}$/
          .exec(authorization)
      assert.isNotNull(parts, authorization)
      const signedHeaders = parts![2].split(";")
      assert.includeMembers(signedHeaders, [":authority", "content-type", "x-amz-date", "x-amz-target"])
      const amzDate = String(headers["x-amz-date"])
      assert.match(amzDate, /^\d{8}T\d{6}Z$/)
      assert.strictEqual(amzDate.slice(0, 8), parts![1])
      // the signature is that of the request as received: signed again from its headers and body
      const resigned = yield* Effect.promise(() =>
        new SignatureV4({ credentials, region: "us-east-1", service: "kinesis", sha256: Sha256, uriEscapePath: true })
          .sign(
            new HttpRequest({
              method: "POST",
              protocol: "http:",
              hostname: "127.0.0.1",
              path: "/",
              headers: Object.fromEntries(signedHeaders.map((name) => [name, String(headers[name])])),
              body
            }),
            { signingDate: signingDate(amzDate) }
          )
      )
      assert.strictEqual(resigned.headers["authorization"], authorization)
    }))

  it.scopedLive("an exception event fails the stream with the typed error (ResourceInUse)", () =>
    Effect.gen(function*() {
      const { port } = yield* setup((stream) => {
        respondEventStream(stream)
        writeSpaced(stream, [
          initialResponse(),
          eventFrame(awsEvents[0]),
          exceptionFrame("ResourceInUseException", "Another active subscription exists for this consumer")
        ], () => stream.end())
      })
      const results = Chunk.toReadonlyArray(
        yield* port.subscribeToShard(request).pipe(Stream.either, Stream.runCollect, Effect.timeout("10 seconds"))
      )
      assert.strictEqual(results.length, 2)
      assert.isTrue(Either.isRight(results[0]))
      assert.deepStrictEqual(comparable(Either.getOrThrow(results[0])), expectedEvents[0])
      const error = Either.flip(results[1]).pipe(Either.getOrThrow)
      assert.strictEqual(error._tag, "ResourceInUse")
      assert.strictEqual(error.message, "Another active subscription exists for this consumer")
      assert.strictEqual(error.operation, "subscribeToShard")
    }))

  it.scopedLive("an exception as the first event fails the subscription with the typed error", () =>
    Effect.gen(function*() {
      const { port } = yield* setup((stream) => {
        respondEventStream(stream)
        writeSpaced(stream, [
          initialResponse(),
          exceptionFrame("ResourceInUseException", "Another active subscription exists for this consumer")
        ], () => stream.end())
      })
      const error = yield* port.subscribeToShard(request).pipe(
        Stream.runCollect,
        Effect.flip,
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(error._tag, "ResourceInUse")
      assert.strictEqual(error.message, "Another active subscription exists for this consumer")
    }))

  it.scopedLive("an HTTP 400 error response fails with the typed error (ResourceNotFound)", () =>
    Effect.gen(function*() {
      const { port } = yield* setup((stream) => {
        stream.respond({
          ":status": 400,
          "content-type": "application/x-amz-json-1.1",
          "x-amzn-requestid": "req-not-found",
          "x-amzn-errortype": "ResourceNotFoundException"
        })
        stream.end(JSON.stringify({ message: `Consumer ${consumerARN} not found.` }))
      })
      const error = yield* port.subscribeToShard(request).pipe(
        Stream.runCollect,
        Effect.flip,
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(error._tag, "ResourceNotFound")
      assert.strictEqual(error.message, `Consumer ${consumerARN} not found.`)
      assert.strictEqual(error.requestId, "req-not-found")
    }))

  it.scopedLive("ending the stream early (Stream.take) cancels the HTTP/2 stream the server keeps open", () =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<Closed>()
      const { port } = yield* setup((stream) => {
        watchClose(stream).then((c) => Deferred.unsafeDone(closed, Exit.succeed(c)))
        respondEventStream(stream)
        // two events, then the response stays open (as AWS's does for up to 5 minutes)
        writeSpaced(stream, [initialResponse(), eventFrame(awsEvents[0]), eventFrame(awsEvents[1])], () => {})
      })
      const events = yield* port.subscribeToShard(request).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.timeout("10 seconds")
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(events).map(comparable), [expectedEvents[0]])
      const { aborted, rstCode } = yield* Deferred.await(closed).pipe(
        Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => "the server's HTTP/2 stream stayed open" })
      )
      assert.isTrue(aborted, "the client reset the stream while the server was still answering")
      assert.strictEqual(rstCode, Http2.constants.NGHTTP2_CANCEL)
    }))

  // An interruption while the subscription waits for its next event must not wait for the server: the
  // release aborts the request before awaiting `iterator.return()` (an async generator runs it only after
  // its pending `next()` settles). With `Stream.fromAsyncIterable` this hung until the next event, and the
  // consumer's watchdog could not renew a silent subscription.
  it.scopedLive("interrupting the subscription while it waits for an event cancels the HTTP/2 stream", () =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<Closed>()
      const { port } = yield* setup((stream) => {
        watchClose(stream).then((c) => Deferred.unsafeDone(closed, Exit.succeed(c)))
        respondEventStream(stream)
        // one event, then silence with the response open
        writeSpaced(stream, [initialResponse(), eventFrame(awsEvents[0])], () => {})
      })
      const first = yield* Deferred.make<Kinesis.SubscribeToShardEvent>()
      const fiber = yield* port.subscribeToShard(request).pipe(
        Stream.runForEach((event) => Deferred.succeed(first, event)),
        Effect.fork
      )
      assert.deepStrictEqual(comparable(yield* Deferred.await(first)), expectedEvents[0])
      // the fiber is now waiting for the next event
      yield* Effect.sleep("50 millis")
      const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("3 seconds"), Effect.option)
      assert.isTrue(Option.isSome(interrupted), "the interruption completes without the server sending more")
      const { aborted, rstCode } = yield* Deferred.await(closed).pipe(
        Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => "the server's HTTP/2 stream stayed open" })
      )
      assert.isTrue(aborted, "the client reset the stream while the server was still answering")
      assert.strictEqual(rstCode, Http2.constants.NGHTTP2_CANCEL)
    }))
})
