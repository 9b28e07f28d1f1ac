/**
 * kinesalite through its translating front answers CBOR as AWS does (whole responses, record data as
 * byte strings, timestamps in epoch milliseconds, CBOR errors), and JSON as kinesalite always did.
 * Raw requests over node:http, signed-looking (kinesalite only checks that they carry an Authorization).
 */
import { LocalKinesis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import { cbor } from "@smithy/core/cbor"
import { Effect, Exit, Scope } from "effect"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import * as Net from "node:net"

const CBOR = "application/x-amz-cbor-1.1"
const JSON_TYPE = "application/x-amz-json-1.1"

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

const send = (
  port: number,
  operation: string,
  contentType: string,
  body: Uint8Array,
  agent: Http.Agent | undefined = undefined
) =>
  Effect.async<Answer, Error>((resume) => {
    const request = Http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/",
      agent: agent ?? false,
      headers: {
        "content-type": contentType,
        "content-length": body.length,
        "x-amz-target": `Kinesis_20131202.${operation}`,
        "x-amz-date": "20260101T000000Z",
        authorization: "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/kinesis/aws4_request, " +
          "SignedHeaders=host, Signature=00"
      }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.once("end", () =>
        resume(
          Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) })
        ))
      response.once("error", (error) => resume(Effect.fail(error)))
    })
    request.once("error", (error) => resume(Effect.fail(error)))
    request.end(body)
  })

/** A CBOR request; the answer decoded (asserting it is CBOR of its announced length). */
const sendCbor = (port: number, operation: string, input: Record<string, unknown>) =>
  Effect.map(send(port, operation, CBOR, cbor.serialize(input)), (answer) => {
    assert.strictEqual(answer.headers["content-type"], CBOR)
    assert.strictEqual(Number(answer.headers["content-length"]), answer.body.length)
    const output = answer.body.length === 0 ? {} : cbor.deserialize(answer.body)
    return { ...answer, output: output as Record<string, unknown> }
  })

/** A JSON request; the answer parsed (asserting it is JSON). */
const sendJson = (port: number, operation: string, input: Record<string, unknown>) =>
  Effect.map(send(port, operation, JSON_TYPE, Buffer.from(JSON.stringify(input))), (answer) => {
    assert.strictEqual(answer.headers["content-type"], JSON_TYPE)
    const text = answer.body.toString("utf8")
    return { ...answer, output: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> }
  })

const isListening = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const STREAM = "cbor-front"
const SHARD = "shardId-000000000000"

/** CreateStream over JSON (one shard), ACTIVE at once (createStreamMs 0). */
const createStream = (port: number, name = STREAM) =>
  Effect.map(sendJson(port, "CreateStream", { StreamName: name, ShardCount: 1 }), (answer) => {
    assert.strictEqual(answer.status, 200)
  })

const iterator = (port: number, input: Record<string, unknown> = {}) =>
  Effect.map(
    sendCbor(port, "GetShardIterator", {
      StreamName: STREAM,
      ShardId: SHARD,
      ShardIteratorType: "TRIM_HORIZON",
      ...input
    }),
    (answer) => {
      assert.strictEqual(answer.status, 200)
      return answer.output.ShardIterator as string
    }
  )

interface CborRecord {
  readonly Data: Uint8Array
  readonly ApproximateArrivalTimestamp: number
  readonly SequenceNumber: string
  readonly PartitionKey: string
}

const datas: ReadonlyArray<Uint8Array> = [
  new Uint8Array(0),
  Uint8Array.of(0xff),
  Uint8Array.from({ length: 256 }, (_, i) => i),
  new Uint8Array(Crypto.randomBytes(1024 * 1024)) // kinesalite's (and AWS's) largest record
]

describe("LocalKinesis.kinesalite over CBOR", () => {
  it.scopedLive("PutRecords and GetRecords carry data of every size whole, beyond kinesalite's 16 KiB", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      yield* createStream(port)
      const put = yield* sendCbor(port, "PutRecords", {
        StreamName: STREAM,
        Records: datas.map((Data, i) => ({ Data, PartitionKey: `key-${i}` }))
      })
      assert.strictEqual(put.status, 200)
      assert.strictEqual(put.output.FailedRecordCount, 0)
      assert.lengthOf(put.output.Records as ReadonlyArray<unknown>, datas.length)

      const got = yield* sendCbor(port, "GetRecords", { ShardIterator: yield* iterator(port) })
      assert.strictEqual(got.status, 200)
      assert.isAbove(got.body.length, 1024 * 1024) // kinesalite's own CBOR stops at 16 KiB
      const records = got.output.Records as ReadonlyArray<CborRecord>
      assert.lengthOf(records, datas.length)
      records.forEach((record, i) => {
        assert.instanceOf(record.Data, Uint8Array)
        assert.deepStrictEqual(Buffer.from(record.Data), Buffer.from(datas[i]!))
        assert.strictEqual(record.PartitionKey, `key-${i}`)
        assert.isTrue(Number.isInteger(record.ApproximateArrivalTimestamp), "arrival is integer epoch ms")
        assert.isBelow(Math.abs(record.ApproximateArrivalTimestamp - Date.now()), 60_000)
      })
      assert.isString(got.output.NextShardIterator)
      assert.strictEqual(got.output.MillisBehindLatest, 0)
    }))

  it.scopedLive("data put over CBOR reads back over JSON as base64 of the same bytes", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      yield* createStream(port)
      const put = yield* sendCbor(port, "PutRecords", {
        StreamName: STREAM,
        Records: datas.map((Data, i) => ({ Data, PartitionKey: `key-${i}` }))
      })
      assert.strictEqual(put.output.FailedRecordCount, 0)
      const it = yield* sendJson(port, "GetShardIterator", {
        StreamName: STREAM,
        ShardId: SHARD,
        ShardIteratorType: "TRIM_HORIZON"
      })
      const got = yield* sendJson(port, "GetRecords", { ShardIterator: it.output.ShardIterator })
      assert.strictEqual(got.status, 200)
      const records = got.output.Records as ReadonlyArray<{ readonly Data: string }>
      assert.deepStrictEqual(records.map((r) => r.Data), datas.map((d) => Buffer.from(d).toString("base64")))
    }))

  it.scopedLive("GetRecords with a bogus iterator is a 400 CBOR InvalidArgumentException", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      yield* createStream(port)
      const got = yield* sendCbor(port, "GetRecords", { ShardIterator: "bogus" })
      assert.strictEqual(got.status, 400)
      assert.strictEqual(got.output.__type, "InvalidArgumentException")
      assert.isString(got.output.message)
      const missing = yield* sendCbor(port, "DescribeStreamSummary", { StreamName: "missing" })
      assert.strictEqual(missing.status, 400)
      assert.strictEqual(missing.output.__type, "ResourceNotFoundException")
    }))

  it.scopedLive("a body that is not CBOR is a 400 CBOR SerializationException", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      const answer = yield* send(port, "ListStreams", CBOR, Uint8Array.of(0xff, 0x00))
      assert.strictEqual(answer.status, 400)
      assert.strictEqual(answer.headers["content-type"], CBOR)
      assert.deepStrictEqual(cbor.deserialize(answer.body), { __type: "SerializationException" })
    }))

  it.scopedLive("timestamps are epoch milliseconds both ways: StreamCreationTimestamp, AT_TIMESTAMP", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      const before = Date.now() - 1000
      yield* createStream(port)
      const summary = yield* sendCbor(port, "DescribeStreamSummary", { StreamName: STREAM })
      const created = (summary.output.StreamDescriptionSummary as { readonly StreamCreationTimestamp: number })
        .StreamCreationTimestamp
      assert.isTrue(Number.isInteger(created))
      assert.isBelow(Math.abs(created - Date.now()), 60_000)
      yield* sendCbor(port, "PutRecords", {
        StreamName: STREAM,
        Records: [{ Data: Uint8Array.of(1), PartitionKey: "k" }]
      })
      // (kinesalite never answers AT_TIMESTAMP after its last record: not asked here)
      const ShardIterator = yield* iterator(port, { ShardIteratorType: "AT_TIMESTAMP", Timestamp: before })
      const got = yield* sendCbor(port, "GetRecords", { ShardIterator })
      assert.lengthOf(got.output.Records as ReadonlyArray<unknown>, 1)
      // read as milliseconds: as seconds, `before` would be in the future, which is refused
      const future = yield* sendCbor(port, "GetShardIterator", {
        StreamName: STREAM,
        ShardId: SHARD,
        ShardIteratorType: "AT_TIMESTAMP",
        Timestamp: Date.now() + 3_600_000
      })
      assert.strictEqual(future.status, 400)
      assert.strictEqual(future.output.__type, "InvalidArgumentException")
    }))

  it.scopedLive("JSON requests and answers pass unchanged (base64 Data, float epoch seconds)", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      yield* createStream(port)
      const put = yield* sendJson(port, "PutRecords", {
        StreamName: STREAM,
        Records: [{ Data: Buffer.from("hello").toString("base64"), PartitionKey: "k" }]
      })
      assert.strictEqual(put.status, 200)
      const it = yield* sendJson(port, "GetShardIterator", {
        StreamName: STREAM,
        ShardId: SHARD,
        ShardIteratorType: "TRIM_HORIZON"
      })
      const got = yield* sendJson(port, "GetRecords", { ShardIterator: it.output.ShardIterator })
      assert.strictEqual(got.status, 200)
      assert.strictEqual(Number(got.headers["content-length"]), got.body.length)
      assert.isString(got.headers["x-amzn-requestid"])
      const [record] = got.output.Records as ReadonlyArray<{ Data: string; ApproximateArrivalTimestamp: number }>
      assert.strictEqual(record!.Data, Buffer.from("hello").toString("base64"))
      assert.isBelow(Math.abs(record!.ApproximateArrivalTimestamp - Date.now() / 1000), 60)
      const bogus = yield* sendJson(port, "GetRecords", { ShardIterator: "bogus" })
      assert.strictEqual(bogus.status, 400)
      assert.strictEqual(bogus.output.__type, "InvalidArgumentException")
    }))

  it.scopedLive("a client gone mid-body does not reach kinesalite (which would throw on it)", () =>
    Effect.gen(function*() {
      const { port } = yield* LocalKinesis.kinesalite()
      yield* Effect.async<void>((resume) => {
        const socket = Net.connect({ port, host: "127.0.0.1" }, () => {
          socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: 1000\r\n\r\n{"a":`)
          setTimeout(() => {
            socket.destroy()
            resume(Effect.void)
          }, 50)
        })
      })
      yield* Effect.sleep("50 millis")
      const list = yield* sendJson(port, "ListStreams", {})
      assert.deepStrictEqual(list.output.StreamNames, [])
    }))

  it.live("closes with its scope, keep-alive connections and all", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const local = yield* Scope.extend(LocalKinesis.kinesalite(), scope)
      const agent = new Http.Agent({ keepAlive: true })
      const list = yield* sendCbor(local.port, "ListStreams", {}).pipe(
        Effect.zipRight(send(local.port, "ListStreams", CBOR, cbor.serialize({}), agent))
      )
      assert.strictEqual(list.status, 200)
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "slow" }))
      assert.isFalse(yield* isListening(local.port))
      agent.destroy()
    }))

  it.live("startKinesalite answers CBOR too", () =>
    Effect.gen(function*() {
      const handle = yield* Effect.promise(() => LocalKinesis.startKinesalite())
      const list = yield* sendCbor(handle.port, "ListStreams", {})
      assert.deepStrictEqual(list.output, { StreamNames: [], HasMoreStreams: false })
      yield* Effect.promise(() => handle.close())
      assert.isFalse(yield* isListening(handle.port))
    }))
})
