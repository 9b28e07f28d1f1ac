/**
 * The data plane's hand-written CBOR (RFC 8949) and the request / response bodies built on it: the
 * writer's heads byte for byte, the decoder against RFC 8949 Appendix A, byte strings as views, malformed
 * input, and the PutRecords / GetRecords bodies read back by an independent parser.
 */
import { type Kinesis, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { cbor, tag } from "@smithy/core/cbor"
import { FastCheck as fc } from "effect"
import { BodyPool, CborError, decode, headSize, keySize, textSize, Writer } from "../src/internal/dataPlane/cbor.js"
import * as Records from "../src/internal/dataPlane/records.js"

const hex = (s: string): Uint8Array => Buffer.from(s.replace(/\s/g, ""), "hex")
const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

/** The bytes the writer produces for one call, in a buffer of exactly the size announced. */
const written = (size: number, f: (w: Writer) => void): string => {
  const w = new Writer(size)
  f(w)
  assert.strictEqual(w.offset, size, "the writer filled its buffer exactly")
  return toHex(w.buffer)
}

/** Smithy's CBOR encoder (an independent implementation), copied out of its shared buffer. */
const encode = (value: unknown): Uint8Array => Uint8Array.from(cbor.serialize(value))

const byName = StreamAddress.unsafeMake("orders")
const ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
const byArn = StreamAddress.unsafeMake(ARN)

describe("cbor Writer", () => {
  // RFC 8949 §3: argument < 24 in the initial byte; 24/25/26/27 announce 1/2/4/8 big-endian bytes
  const heads: ReadonlyArray<readonly [number, string]> = [
    [0, "00"],
    [1, "01"],
    [23, "17"],
    [24, "1818"],
    [255, "18ff"],
    [256, "190100"],
    [65535, "19ffff"],
    [65536, "1a00010000"],
    [2 ** 32 - 1, "1affffffff"],
    [2 ** 32, "1b0000000100000000"],
    [2 ** 53 - 1, "1b001fffffffffffff"]
  ]

  it("writes an unsigned head of every size class exactly, in headSize bytes", () => {
    for (const [n, expected] of heads) {
      assert.strictEqual(headSize(n), expected.length / 2, `headSize(${n})`)
      assert.strictEqual(written(headSize(n), (w) => w.unsigned(n)), expected, `unsigned(${n})`)
    }
  })

  it("puts the major type in the top three bits for arrays and maps", () => {
    // major 4 (array) = 0x80, major 5 (map) = 0xa0
    assert.strictEqual(written(1, (w) => w.array(0)), "80")
    assert.strictEqual(written(1, (w) => w.array(23)), "97")
    assert.strictEqual(written(2, (w) => w.array(24)), "9818")
    assert.strictEqual(written(3, (w) => w.array(256)), "990100")
    assert.strictEqual(written(5, (w) => w.array(65536)), "9a00010000")
    assert.strictEqual(written(9, (w) => w.array(2 ** 32)), "9b0000000100000000")
    assert.strictEqual(written(1, (w) => w.map(2)), "a2")
    assert.strictEqual(written(2, (w) => w.map(255)), "b8ff")
    assert.strictEqual(written(3, (w) => w.map(65535)), "b9ffff")
    assert.strictEqual(written(5, (w) => w.map(65536)), "ba00010000")
    assert.strictEqual(written(9, (w) => w.map(2 ** 32)), "bb0000000100000000")
  })

  it("writes byte strings (major 2), text (major 3, UTF-8) and ASCII keys with their length heads", () => {
    assert.strictEqual(written(1, (w) => w.bytes(new Uint8Array(0))), "40")
    assert.strictEqual(written(5, (w) => w.bytes(new Uint8Array([1, 2, 3, 4]))), "4401020304")
    const big = new Uint8Array(300).fill(7)
    assert.strictEqual(written(3 + 300, (w) => w.bytes(big)), "59012c" + "07".repeat(300))
    const big24 = new Uint8Array(24).fill(9)
    assert.strictEqual(written(2 + 24, (w) => w.bytes(big24)), "5818" + "09".repeat(24))

    assert.strictEqual(written(textSize(0), (w) => w.text("", 0)), "60")
    assert.strictEqual(written(textSize(4), (w) => w.text("IETF", 4)), "6449455446")
    // RFC 8949 Appendix A: "ü" = 0x62c3bc, "水" = 0x63e6b0b4, "𐅑" = 0x64f0908591
    assert.strictEqual(written(textSize(2), (w) => w.text("ü", 2)), "62c3bc")
    assert.strictEqual(written(textSize(3), (w) => w.text("水", 3)), "63e6b0b4")
    assert.strictEqual(written(textSize(4), (w) => w.text("𐅑", 4)), "64f0908591")
    const long = "x".repeat(256)
    assert.strictEqual(textSize(256), 3 + 256)
    assert.strictEqual(written(textSize(256), (w) => w.text(long, 256)), "790100" + "78".repeat(256))

    assert.strictEqual(keySize("Data"), 5)
    assert.strictEqual(written(keySize("Data"), (w) => w.key("Data")), "6444617461")
    const longKey = "K".repeat(30)
    assert.strictEqual(keySize(longKey), 32)
    assert.strictEqual(written(keySize(longKey), (w) => w.key(longKey)), "781e" + "4b".repeat(30))
  })
})

describe("cbor decode", () => {
  // RFC 8949 Appendix A (tags are dropped: a tagged item decodes to its content)
  const examples: ReadonlyArray<readonly [string, unknown]> = [
    // unsigned integers
    ["00", 0],
    ["01", 1],
    ["0a", 10],
    ["17", 23],
    ["1818", 24],
    ["1819", 25],
    ["1864", 100],
    ["1903e8", 1000],
    ["1a000f4240", 1000000],
    ["1b000000e8d4a51000", 1000000000000],
    ["1b001fffffffffffff", Number.MAX_SAFE_INTEGER],
    // negative integers
    ["20", -1],
    ["29", -10],
    ["3863", -100],
    ["3903e7", -1000],
    ["3a000f423f", -1000000],
    ["3b000000e8d4a50fff", -1000000000000],
    // simple values
    ["f4", false],
    ["f5", true],
    ["f6", null],
    ["f7", undefined],
    // half floats, normal and subnormal
    ["f90000", 0],
    ["f93c00", 1],
    ["f93e00", 1.5],
    ["f97bff", 65504],
    ["f90001", 5.960464477539063e-8],
    ["f903ff", 0.00006097555160522461],
    ["f90400", 0.00006103515625],
    ["f9c400", -4],
    ["f97c00", Infinity],
    ["f9fc00", -Infinity],
    // single floats
    ["fa47c35000", 100000],
    ["fa7f7fffff", 3.4028234663852886e38],
    ["fa3fc00000", 1.5],
    ["fa7f800000", Infinity],
    ["faff800000", -Infinity],
    // double floats
    ["fb3ff199999999999a", 1.1],
    ["fb7e37e43c8800759c", 1.0e300],
    ["fbc010666666666666", -4.1],
    ["fb7ff0000000000000", Infinity],
    ["fbfff0000000000000", -Infinity],
    // text strings
    ["60", ""],
    ["6161", "a"],
    ["6449455446", "IETF"],
    ["62225c", "\"\\"],
    ["62c3bc", "ü"],
    ["63e6b0b4", "水"],
    ["64f0908591", "𐅑"],
    ["7f657374726561646d696e67ff", "streaming"],
    ["7fff", ""],
    // arrays
    ["80", []],
    ["83010203", [1, 2, 3]],
    ["8301820203820405", [1, [2, 3], [4, 5]]],
    [
      "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
      Array.from({ length: 25 }, (_, i) => i + 1)
    ],
    ["9fff", []],
    ["9f018202039f0405ffff", [1, [2, 3], [4, 5]]],
    ["9f01820203820405ff", [1, [2, 3], [4, 5]]],
    ["83018202039f0405ff", [1, [2, 3], [4, 5]]],
    ["83019f0203ff820405", [1, [2, 3], [4, 5]]],
    [
      "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
      Array.from({ length: 25 }, (_, i) => i + 1)
    ],
    // maps (keys become property names)
    ["a0", {}],
    ["a201020304", { "1": 2, "3": 4 }],
    ["a26161016162820203", { a: 1, b: [2, 3] }],
    ["826161a161626163", ["a", { b: "c" }]],
    ["a56161614161626142616361436164614461656145", { a: "A", b: "B", c: "C", d: "D", e: "E" }],
    ["bfff", {}],
    ["bf61610161629f0203ffff", { a: 1, b: [2, 3] }],
    ["826161bf61626163ff", ["a", { b: "c" }]],
    ["bf6346756ef563416d7421ff", { Fun: true, Amt: -2 }],
    // tags: the content
    ["c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"],
    ["c11a514b67b0", 1363896240],
    ["c1fb41d452d9ec200000", 1363896240.5],
    ["d82076687474703a2f2f7777772e6578616d706c652e636f6d", "http://www.example.com"],
    ["c11b0000018bcfe56800", 1700000000000],
    ["d9d9f7a1616101", { a: 1 }]
  ]

  it("reads every RFC 8949 Appendix A example (ints, floats, simple values, strings, arrays, maps, tags)", () => {
    for (const [input, expected] of examples) {
      assert.deepStrictEqual(decode(hex(input)), expected, input)
    }
  })

  it("reads the signs and NaNs of floats", () => {
    assert.isTrue(Object.is(decode(hex("f98000")), -0), "half -0")
    assert.isTrue(Object.is(decode(hex("f98001")), -5.960464477539063e-8), "negative half subnormal")
    assert.isTrue(Number.isNaN(decode(hex("f97e00"))), "half NaN")
    assert.isTrue(Number.isNaN(decode(hex("f97c01"))), "half NaN (other payload)")
    assert.isTrue(Number.isNaN(decode(hex("fa7fc00000"))), "single NaN")
    assert.isTrue(Number.isNaN(decode(hex("fb7ff8000000000000"))), "double NaN")
  })

  it("reads byte strings, definite and indefinite", () => {
    const empty = decode(hex("40"))
    assert.instanceOf(empty, Uint8Array)
    assert.strictEqual((empty as Uint8Array).length, 0)
    assert.deepStrictEqual(Array.from(decode(hex("4401020304")) as Uint8Array), [1, 2, 3, 4])
    assert.deepStrictEqual(Array.from(decode(hex("5f42010243030405ff")) as Uint8Array), [1, 2, 3, 4, 5])
    assert.deepStrictEqual(Array.from(decode(hex("5fff")) as Uint8Array), [])
    const long = decode(hex("590100" + "ab".repeat(256))) as Uint8Array
    assert.strictEqual(long.length, 256)
    assert.isTrue(long.every((b) => b === 0xab))
  })

  it("returns byte strings as views sharing the input's buffer (no copy)", () => {
    // the CBOR item sits at offset 3 of a larger buffer: {"Data": h'01020304', "Other": h'0506'}
    const item = hex("a2 64 44617461 44 01020304 65 4f74686572 42 0506")
    const backing = new Uint8Array(3 + item.length + 2)
    backing.set(item, 3)
    const input = backing.subarray(3, 3 + item.length)
    const out = decode(input) as { Data: Uint8Array; Other: Uint8Array }
    assert.deepStrictEqual(Array.from(out.Data), [1, 2, 3, 4])
    assert.strictEqual(out.Data.buffer, backing.buffer)
    assert.strictEqual(out.Data.byteOffset, 3 + 7)
    assert.strictEqual(out.Other.buffer, backing.buffer)
    assert.strictEqual(out.Other.byteOffset, 3 + 18)
    // a write to the input shows through the view
    input[7] = 0xff
    assert.strictEqual(out.Data[0], 0xff)
  })

  it("throws CborError on truncated input, trailing bytes, a stray break and reserved values", () => {
    const malformed = [
      "18", // 1-byte argument missing
      "19 01", // 2-byte argument cut
      "1a 000000", // 4-byte argument cut
      "1b 00000000000000", // 8-byte argument cut
      "44 0102", // byte string shorter than announced
      "63 6161", // text shorter than announced
      "82 01", // array missing an item
      "a2 6161 01 6162", // map missing a value
      "5f 4101", // indefinite byte string without its break
      "9f 01 02", // indefinite array without its break
      "bf 6161 01", // indefinite map without its break
      "c1", // tag without content
      "f9 00", // half float cut
      "fa 000000", // single float cut
      "fb 00000000000000", // double float cut
      "00 00", // a second item after the first
      "83 010203 04", // trailing byte after an array
      "ff", // break outside an indefinite item
      "1c", // reserved additional information
      "f8", // simple value with its byte missing
      "fc", // reserved simple value
      "5f 61 61 ff" // a text chunk in an indefinite byte string
    ]
    for (const input of malformed) {
      assert.throws(() => decode(hex(input)), CborError, undefined, input)
    }
    try {
      decode(hex("0000"))
      assert.fail("decoded trailing bytes")
    } catch (error) {
      assert.instanceOf(error, CborError)
      assert.strictEqual((error as CborError).name, "CborError")
      assert.include((error as CborError).message, "1 bytes after the item")
    }
  })

  it("throws on a text string that is not UTF-8", () => {
    assert.throws(() => decode(hex("62c328")))
  })

  it("an empty input decodes to undefined", () => {
    assert.isUndefined(decode(new Uint8Array(0)))
  })

  it.prop(
    "decodes whatever Smithy's CBOR encoder writes (maps, arrays, texts, bytes, integers, floats)",
    [
      fc.jsonValue({ maxDepth: 3 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true })
    ],
    ([json, bytes, int, double]) => {
      const value = { json, bytes, int, double, list: [bytes, int] }
      const out = decode(encode(value)) as {
        json: unknown
        bytes: Uint8Array
        int: number
        double: number
        list: [Uint8Array, number]
      }
      assert.deepStrictEqual(out.json, JSON.parse(JSON.stringify(json)))
      assert.deepStrictEqual(Array.from(out.bytes), Array.from(bytes))
      assert.strictEqual(out.int, int)
      assert.isTrue(Object.is(out.double, double) || (out.double === 0 && double === 0))
      assert.deepStrictEqual(Array.from(out.list[0]), Array.from(bytes))
      assert.strictEqual(out.list[1], int)
    }
  )
})

/** `bytes` cut at `cuts` (sorted offsets), as a socket would deliver it. */
const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let at = 0
  for (const cut of [...cuts, bytes.length]) {
    // each chunk in a buffer of its own, as each socket read is
    out.push(Uint8Array.from(bytes.subarray(at, cut)))
    at = cut
  }
  return out
}

describe("cbor decode over chunks", () => {
  const body = encode({
    Records: [
      { Data: new Uint8Array(300).fill(7), PartitionKey: "a", SequenceNumber: "49".repeat(28) },
      {
        Data: new Uint8Array(0),
        PartitionKey: "ünïcödé",
        ApproximateArrivalTimestamp: tag({ tag: 1, value: 1700000000000 })
      },
      { Data: Uint8Array.from({ length: 70_000 }, (_, i) => i % 251), PartitionKey: "big" }
    ],
    MillisBehindLatest: 2 ** 40 + 1,
    Half: 1.5,
    NextShardIterator: "x".repeat(100)
  })
  const whole = decode(body)

  it("reads a body cut at every byte into two chunks as it reads it whole", () => {
    // every cut of the first 400 bytes (heads, keys, a record's data, the second record), then every 97th
    for (let cut = 0; cut <= body.length; cut += cut < 400 || cut > body.length - 200 ? 1 : 97) {
      assert.deepStrictEqual(decode(chunked(body, [cut])), whole, `cut at ${cut}`)
    }
  })

  it.prop(
    "reads a body cut into any chunks (empty ones included) as it reads it whole",
    [fc.uniqueArray(fc.integer({ min: 0, max: body.length }), { maxLength: 40 }), fc.nat({ max: 3 })],
    ([cuts, empties]) => {
      const chunks = chunked(body, [...cuts].sort((a, b) => a - b))
      for (let i = 0; i < empties; i++) chunks.splice(i * 2, 0, new Uint8Array(0))
      assert.deepStrictEqual(decode(chunks), whole)
    }
  )

  it("gives data inside one chunk as a view into it, and copies only data that straddle two", () => {
    const item = hex("a2 64 44617461 44 01020304 65 4f74686572 42 0506")
    // the first chunk ends inside "Data"'s bytes; "Other" lies whole in the second
    const chunks = chunked(item, [9])
    const out = decode(chunks) as { Data: Uint8Array; Other: Uint8Array }
    assert.deepStrictEqual(Array.from(out.Data), [1, 2, 3, 4])
    assert.notStrictEqual(out.Data.buffer, chunks[0]!.buffer)
    assert.notStrictEqual(out.Data.buffer, chunks[1]!.buffer)
    assert.deepStrictEqual(Array.from(out.Other), [5, 6])
    assert.strictEqual(out.Other.buffer, chunks[1]!.buffer)
    assert.strictEqual(out.Other.byteOffset, 18 - 9)
  })

  it("throws CborError, with the position in the whole body, on a body truncated at any chunk", () => {
    const cut = body.subarray(0, body.length - 5)
    for (const at of [1, 100, cut.length - 1]) {
      assert.throws(() => decode(chunked(cut, [at])), CborError, "truncated")
    }
    const error = (() => {
      try {
        decode(chunked(hex("82 01 1c"), [2]))
      } catch (e) {
        return e as CborError
      }
    })()
    assert.instanceOf(error, CborError)
    assert.include(error!.message, "at byte 2")
    assert.throws(() => decode(chunked(hex("01 02"), [1])), CborError, "1 bytes after the item")
    assert.isUndefined(decode([new Uint8Array(0), new Uint8Array(0)]))
  })
})

// ---------------------------------------------------------------------------------------------
// request bodies
// ---------------------------------------------------------------------------------------------

interface WireRecord {
  readonly Data: Uint8Array
  readonly PartitionKey: string
  readonly ExplicitHashKey?: string
}

const expectedRecords = (request: Kinesis.PutRecordsRequest): Array<Record<string, unknown>> =>
  request.records.map((r) => ({
    Data: Array.from(r.data),
    PartitionKey: r.partitionKey,
    ...(r.explicitHashKey === undefined ? {} : { ExplicitHashKey: r.explicitHashKey })
  }))

const streamFields = (stream: StreamAddress.StreamAddress): Record<string, string> =>
  stream._tag === "StreamArn" ? { StreamARN: stream.arn } : { StreamName: stream.name }

/** The CBOR body decoded, with byte strings as arrays of numbers (for deep equality). */
const decodedPut = (body: Uint8Array): Record<string, unknown> => {
  const out = decode(body) as { Records: Array<WireRecord> } & Record<string, unknown>
  for (const r of out.Records) assert.instanceOf(r.Data, Uint8Array)
  return { ...out, Records: out.Records.map((r) => ({ ...r, Data: Array.from(r.Data) })) }
}

/** The JSON body parsed, with base64 data decoded to arrays of numbers. */
const parsedPut = (body: Uint8Array): Record<string, unknown> => {
  const out = JSON.parse(Buffer.from(body).toString("utf8")) as { Records: Array<{ Data: string }> }
  for (const r of out.Records) assert.isString(r.Data)
  return { ...out, Records: out.Records.map((r) => ({ ...r, Data: Array.from(Buffer.from(r.Data, "base64")) })) }
}

const sampleRecords: ReadonlyArray<Kinesis.PutRecordsEntry> = [
  { data: new Uint8Array([0, 1, 2, 255]), partitionKey: "k1" },
  { data: new Uint8Array(0), partitionKey: "ünïcödé 🦀", explicitHashKey: "170141183460469231731687303715884105728" },
  { data: new Uint8Array(300).fill(0x5a), partitionKey: "p".repeat(256) },
  // a view into a larger buffer: only its own bytes are sent
  { data: new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5), partitionKey: "view", explicitHashKey: "0" }
]

describe("request bodies", () => {
  for (const stream of [byName, byArn]) {
    it(`PutRecords in CBOR decodes to exactly the request (${stream._tag})`, () => {
      const request: Kinesis.PutRecordsRequest = { stream, records: sampleRecords }
      const body = Records.putRecords("cbor", request)
      assert.strictEqual(body.contentType, "application/x-amz-cbor-1.1")
      assert.deepStrictEqual(decodedPut(body.body), { Records: expectedRecords(request), ...streamFields(stream) })
      // Smithy's decoder (independent) reads the same body
      const smithy = cbor.deserialize(body.body) as { Records: Array<WireRecord> }
      assert.deepStrictEqual(Array.from(smithy.Records[3]!.Data), [1, 2, 3])
    })

    it(`PutRecords in JSON parses to exactly the request, data in base64 (${stream._tag})`, () => {
      const request: Kinesis.PutRecordsRequest = { stream, records: sampleRecords }
      const body = Records.putRecords("json", request)
      assert.strictEqual(body.contentType, "application/x-amz-json-1.1")
      assert.deepStrictEqual(parsedPut(body.body), { Records: expectedRecords(request), ...streamFields(stream) })
    })
  }

  it("PutRecords with no record, and a record of 65536 bytes (4-byte length head)", () => {
    const empty: Kinesis.PutRecordsRequest = { stream: byName, records: [] }
    assert.deepStrictEqual(decodedPut(Records.putRecords("cbor", empty).body), { Records: [], StreamName: "orders" })
    const big: Kinesis.PutRecordsRequest = {
      stream: byName,
      records: [{ data: new Uint8Array(65536).fill(1), partitionKey: "big" }]
    }
    const body = Records.putRecords("cbor", big).body
    assert.deepStrictEqual(decodedPut(body), { Records: expectedRecords(big), StreamName: "orders" })
    assert.deepStrictEqual(parsedPut(Records.putRecords("json", big).body), decodedPut(body))
  })

  it.prop(
    "PutRecords bodies round-trip any records (CBOR and JSON)",
    [
      fc.array(
        fc.record({
          data: fc.uint8Array({ maxLength: 64 }),
          partitionKey: fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }),
          explicitHashKey: fc.option(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String), { nil: undefined })
        }),
        { maxLength: 20 }
      ),
      fc.boolean()
    ],
    ([records, arn]) => {
      const stream = arn ? byArn : byName
      const request: Kinesis.PutRecordsRequest = { stream, records }
      const expected = { Records: expectedRecords(request), ...streamFields(stream) }
      assert.deepStrictEqual(decodedPut(Records.putRecords("cbor", request).body), expected)
      assert.deepStrictEqual(parsedPut(Records.putRecords("json", request).body), expected)
    }
  )

  it("PutRecords in CBOR measures a non-ASCII ExplicitHashKey in UTF-8 bytes", () => {
    // Not a valid hash key (the service rejects it), but the body must stay well-formed CBOR: the
    // key is sized by its UTF-16 length today, which leaves the body truncated plus uninitialised bytes.
    const request: Kinesis.PutRecordsRequest = {
      stream: byName,
      records: [{ data: new Uint8Array([1]), partitionKey: "k", explicitHashKey: "١٢٣" }]
    }
    assert.deepStrictEqual(decodedPut(Records.putRecords("cbor", request).body), {
      Records: expectedRecords(request),
      StreamName: "orders"
    })
  })

  const getCases: ReadonlyArray<readonly [string, Kinesis.GetRecordsRequest, Record<string, unknown>]> = [
    ["iterator only", { shardIterator: "AAAA/iterator+=" }, { ShardIterator: "AAAA/iterator+=" }],
    ["with Limit", { shardIterator: "it", limit: 10000 }, { ShardIterator: "it", Limit: 10000 }],
    ["with Limit 24", { shardIterator: "it", limit: 24 }, { ShardIterator: "it", Limit: 24 }],
    ["a stream name is not sent", { shardIterator: "it", stream: byName }, { ShardIterator: "it" }],
    ["with StreamARN", { shardIterator: "it", stream: byArn }, { ShardIterator: "it", StreamARN: ARN }],
    [
      "with Limit and StreamARN",
      { shardIterator: "x".repeat(300), limit: 5, stream: byArn },
      { ShardIterator: "x".repeat(300), Limit: 5, StreamARN: ARN }
    ]
  ]

  for (const [name, request, expected] of getCases) {
    it(`GetRecords bodies (${name})`, () => {
      const c = Records.getRecords("cbor", request)
      assert.strictEqual(c.contentType, "application/x-amz-cbor-1.1")
      assert.deepStrictEqual(decode(c.body), expected)
      const j = Records.getRecords("json", request)
      assert.strictEqual(j.contentType, "application/x-amz-json-1.1")
      assert.deepStrictEqual(JSON.parse(Buffer.from(j.body).toString("utf8")), expected)
    })
  }

  it("GetRecords in CBOR writes Limit as the smallest unsigned head", () => {
    // {"ShardIterator": "i", "Limit": 1000}
    assert.strictEqual(
      toHex(Records.getRecords("cbor", { shardIterator: "i", limit: 1000 }).body),
      "a2" + "6d" + Buffer.from("ShardIterator").toString("hex") + "6169" + "65" +
        Buffer.from("Limit").toString("hex") + "1903e8"
    )
  })
})

// ---------------------------------------------------------------------------------------------
// response readers
// ---------------------------------------------------------------------------------------------

describe("response readers", () => {
  const ms = 1700000000123

  it("getRecordsResponse reads Data as a byte string, base64 text or kinesalite's Buffer object", () => {
    const body = encode({
      Records: [
        { SequenceNumber: "1", Data: new Uint8Array([1, 2, 3]), PartitionKey: "a", ApproximateArrivalTimestamp: ms },
        { SequenceNumber: "2", Data: "BAUG", PartitionKey: "b", ApproximateArrivalTimestamp: ms },
        {
          SequenceNumber: "3",
          Data: { type: "Buffer", data: [7, 8, 9] },
          PartitionKey: "c",
          ApproximateArrivalTimestamp: ms
        },
        { SequenceNumber: "4", PartitionKey: "d", ApproximateArrivalTimestamp: ms }
      ],
      NextShardIterator: "next",
      MillisBehindLatest: 42
    })
    const out = Records.getRecordsResponse(Records.parse("cbor", body))
    assert.deepStrictEqual(out.records.map((r) => Array.from(r.data)), [[1, 2, 3], [4, 5, 6], [7, 8, 9], []])
    assert.deepStrictEqual(out.records.map((r) => r.sequenceNumber), ["1", "2", "3", "4"])
    assert.deepStrictEqual(out.records.map((r) => r.partitionKey), ["a", "b", "c", "d"])
    assert.strictEqual(out.nextShardIterator, "next")
    assert.strictEqual(out.millisBehindLatest, 42)
    assert.isUndefined(out.childShards)
    // the CBOR byte string is a view into the response body
    assert.strictEqual(out.records[0]!.data.buffer, body.buffer)
  })

  it("getRecordsResponse reads timestamps as integer ms (AWS, tagged or not), float s and integer s", () => {
    const at = (value: unknown) =>
      Records.getRecordsResponse({ Records: [{ Data: "", ApproximateArrivalTimestamp: value }] }).records[0]!
        .approximateArrivalTimestamp.getTime()
    assert.strictEqual(at(ms), ms) // AWS: integer epoch milliseconds
    assert.strictEqual(at(1700000000.123), 1700000000123) // kinesalite: float epoch seconds
    assert.strictEqual(at(1700000000), 1700000000000) // integer seconds (below 1e11)
    assert.strictEqual(at(99999999999), 99999999999000) // the largest integer read as seconds
    assert.strictEqual(at(1e11), 1e11) // the smallest read as milliseconds
    assert.strictEqual(at(new Date(ms)), ms)
    assert.strictEqual(at(undefined), 0)
    // through CBOR: tag 1 around integer milliseconds (the tag is dropped), and a double
    const tagged = Records.getRecordsResponse(Records.parse(
      "cbor",
      encode({
        Records: [
          { Data: new Uint8Array([1]), ApproximateArrivalTimestamp: tag({ tag: 1, value: ms }) },
          { Data: new Uint8Array([2]), ApproximateArrivalTimestamp: 1700000000.5 }
        ]
      })
    ))
    assert.deepStrictEqual(tagged.records.map((r) => r.approximateArrivalTimestamp.getTime()), [ms, 1700000000500])
  })

  it("getRecordsResponse reads child shards and an absent NextShardIterator as undefined", () => {
    const out = Records.getRecordsResponse(Records.parse(
      "json",
      Buffer.from(JSON.stringify({
        Records: [],
        MillisBehindLatest: 0,
        ChildShards: [
          {
            ShardId: "shardId-000000000001",
            ParentShards: ["shardId-000000000000"],
            HashKeyRange: { StartingHashKey: "0", EndingHashKey: "170141183460469231731687303715884105727" }
          }
        ]
      }))
    ))
    assert.isUndefined(out.nextShardIterator)
    assert.strictEqual(out.millisBehindLatest, 0)
    assert.deepStrictEqual(out.childShards, [{
      shardId: "shardId-000000000001",
      parentShards: ["shardId-000000000000"],
      hashKeyRange: { startingHashKey: "0", endingHashKey: "170141183460469231731687303715884105727" }
    }])
  })

  it.prop(
    "getRecordsResponseCbor (fields read in place, over any chunks) gives what the general reader gives",
    [
      fc.array(
        fc.record({
          SequenceNumber: fc.stringMatching(/^[0-9]{1,56}$/),
          Data: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.base64String({ maxLength: 40 })),
          PartitionKey: fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }),
          ApproximateArrivalTimestamp: fc.oneof(fc.constant(ms), fc.constant(1700000000.5)),
          EncryptionType: fc.constantFrom("NONE", "KMS"),
          Unknown: fc.jsonValue({ maxDepth: 1 })
        }, { requiredKeys: ["SequenceNumber", "Data", "PartitionKey"] }),
        { maxLength: 12 }
      ),
      fc.option(fc.string(), { nil: undefined }),
      fc.uniqueArray(fc.nat({ max: 3_000 }), { maxLength: 6 })
    ],
    ([records, next, cuts]) => {
      const body = encode({
        Records: records,
        ...(next === undefined ? {} : { NextShardIterator: next }),
        MillisBehindLatest: 7,
        ChildShards: [{
          ShardId: "s1",
          ParentShards: ["s0"],
          HashKeyRange: { StartingHashKey: "0", EndingHashKey: "9" }
        }]
      })
      const expected = Records.getRecordsResponse(Records.parse("cbor", body))
      const inPlace = Records.getRecordsResponseCbor(
        chunked(body, cuts.filter((c) => c <= body.length).sort((a, b) => a - b))
      )
      const plain = (r: Kinesis.GetRecordsResponse) => ({
        ...r,
        records: r.records.map((x) => ({ ...x, data: Array.from(x.data) }))
      })
      assert.deepStrictEqual(plain(inPlace), plain(expected))
    }
  )

  it("getRecordsResponseCbor reads indefinite-length maps and arrays, and rejects what is not a GetRecords body", () => {
    // {_ "Records": [_ {_ "SequenceNumber": "1", "Data": h'01', "PartitionKey": "a"} ], "MillisBehindLatest": 3 }
    const indefinite = hex(
      "bf 67 5265636f726473 9f bf 6e 53657175656e63654e756d626572 61 31 64 44617461 41 01 " +
        "6c 506172746974696f6e4b6579 61 61 ff ff 72 4d696c6c6973426568696e644c6174657374 03 ff"
    )
    const out = Records.getRecordsResponseCbor([indefinite])
    assert.deepStrictEqual(out.records.map((r) => [r.sequenceNumber, Array.from(r.data), r.partitionKey]), [[
      "1",
      [1],
      "a"
    ]])
    assert.strictEqual(out.millisBehindLatest, 3)
    assert.deepStrictEqual(Records.getRecordsResponseCbor([]).records, [])
    assert.throws(() => Records.getRecordsResponseCbor([hex("80")]), Records.MalformedResponse)
    assert.throws(() => Records.getRecordsResponseCbor([encode({ Records: [1] })]), Records.MalformedResponse)
    assert.throws(() => Records.getRecordsResponseCbor([hex("a1 67 5265636f726473 81")]), CborError)
    assert.throws(() => Records.getRecordsResponseCbor([hex("a0 00")]), CborError)
  })

  it.prop(
    "putRecordsResponseCbor (results read in place, over any chunks) gives what the general reader gives",
    [
      fc.array(
        fc.oneof(
          fc.record({
            SequenceNumber: fc.stringMatching(/^[0-9]{1,56}$/),
            ShardId: fc.constantFrom("shardId-000000000000", "shardId-000000000007"),
            Unknown: fc.jsonValue({ maxDepth: 1 })
          }, { requiredKeys: ["SequenceNumber", "ShardId"] }),
          fc.record({
            ErrorCode: fc.constantFrom("ProvisionedThroughputExceededException", "InternalFailure"),
            ErrorMessage: fc.string({ maxLength: 40 })
          }, { requiredKeys: ["ErrorCode"] })
        ),
        { maxLength: 12 }
      ),
      fc.option(fc.constantFrom("NONE", "KMS"), { nil: undefined }),
      fc.uniqueArray(fc.nat({ max: 1_500 }), { maxLength: 6 })
    ],
    ([records, encryptionType, cuts]) => {
      const body = encode({
        FailedRecordCount: records.filter((r) => "ErrorCode" in r).length,
        Records: records,
        ...(encryptionType === undefined ? {} : { EncryptionType: encryptionType })
      })
      const expected = Records.putRecordsResponse(Records.parse("cbor", body))
      const inPlace = Records.putRecordsResponseCbor(
        chunked(body, cuts.filter((c) => c <= body.length).sort((a, b) => a - b))
      )
      assert.deepStrictEqual(inPlace, expected)
    }
  )

  it("putRecordsResponseCbor reads indefinite-length maps and arrays, and rejects what is not a PutRecords body", () => {
    // {_ "Records": [_ {_ "SequenceNumber": "1", "ShardId": "s"} ], "FailedRecordCount": 0 }
    const indefinite = hex(
      "bf 67 5265636f726473 9f bf 6e 53657175656e63654e756d626572 61 31 67 53686172644964 61 73 ff ff " +
        "71 4661696c65645265636f7264436f756e74 00 ff"
    )
    assert.deepStrictEqual(Records.putRecordsResponseCbor([indefinite]), {
      failedRecordCount: 0,
      records: [{ _tag: "Success", shardId: "s", sequenceNumber: "1" }]
    })
    assert.throws(() => Records.putRecordsResponseCbor([]), Records.MalformedResponse)
    assert.throws(() => Records.putRecordsResponseCbor([hex("80")]), Records.MalformedResponse)
    assert.throws(() => Records.putRecordsResponseCbor([encode({ Records: [1] })]), Records.MalformedResponse)
    assert.throws(() => Records.putRecordsResponseCbor([encode({ FailedRecordCount: 0 })]), Records.MalformedResponse)
    assert.throws(() => Records.putRecordsResponseCbor([hex("a1 67 5265636f726473 81")]), CborError)
  })

  it("putRecordsResponse reads successes, failures and the encryption type", () => {
    const body = encode({
      FailedRecordCount: 1,
      EncryptionType: "KMS",
      Records: [
        { ShardId: "shardId-000000000000", SequenceNumber: "4959" },
        { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded" }
      ]
    })
    assert.deepStrictEqual(Records.putRecordsResponse(Records.parse("cbor", body)), {
      failedRecordCount: 1,
      encryptionType: "KMS",
      records: [
        { _tag: "Success", shardId: "shardId-000000000000", sequenceNumber: "4959" },
        { _tag: "Failure", errorCode: "ProvisionedThroughputExceededException", errorMessage: "Rate exceeded" }
      ]
    })
  })

  it("the readers reject bodies without the operation's shape", () => {
    assert.throws(() => Records.putRecordsResponse(Records.parse("cbor", new Uint8Array(0))), Records.MalformedResponse)
    assert.throws(() => Records.getRecordsResponse([]), Records.MalformedResponse)
    assert.throws(() => Records.getRecordsResponse({ Records: [{ Data: 12 }] }), Records.MalformedResponse)
    assert.throws(() => Records.parse("cbor", hex("8201")), CborError)
  })
})

describe("BodyPool", () => {
  it("hands a buffer out once, takes back only its own, reuses it, and keeps at most maxFreeBytes free", () => {
    const pool = new BodyPool(1024, 8192)
    const small = pool.acquire(100)
    assert.strictEqual(small.length, 100)
    const a = pool.acquire(3000)
    const b = pool.acquire(3000)
    assert.strictEqual(a.length, 3000)
    assert.notStrictEqual(a.buffer, b.buffer, "not handed out twice")
    pool.release(a)
    pool.release(a) // (a second release is ignored)
    pool.release(new Uint8Array(4096)) // (not the pool's)
    pool.release(small) // (too small to be pooled)
    const c = pool.acquire(2500)
    assert.strictEqual(c.buffer, a.buffer, "reused after release")
    assert.strictEqual(c.length, 2500)
    assert.notStrictEqual(pool.acquire(2500).buffer, a.buffer, "released once, reused once")
    // at most 8 KiB kept free: the third 4 KiB buffer is dropped
    const held = [pool.acquire(4000), pool.acquire(4000), pool.acquire(4000)]
    for (const body of held) pool.release(body)
    const again = [pool.acquire(4000), pool.acquire(4000), pool.acquire(4000)].map((x) => x.buffer)
    assert.strictEqual(again.filter((x) => held.some((h) => h.buffer === x)).length, 2)
  })
})
