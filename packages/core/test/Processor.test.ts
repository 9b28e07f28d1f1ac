/**
 * Processors: exact wire formats, grouping and size limits on the producer side, typed failures
 * (EncodeError, RecordTooLarge, DecodeError), KPL plain-record handling, Schema codecs, and property
 * round trips for every processor. KPL interoperability with aws-kinesis-agg is in KplInterop.test.ts.
 */
import { Kinesis, Processor } from "@effect-kinesis/core"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { freshStream, kinesaliteLayer } from "./utils/servers.js"

const encoder = new TextEncoder()
const bytes = (s: string) => encoder.encode(s)
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1")
const md5 = (b: Uint8Array) => new Uint8Array(createHash("md5").update(b).digest())
const concat = (...parts: ReadonlyArray<Uint8Array | ReadonlyArray<number>>) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let p = 0
  for (const part of parts) {
    out.set(part, p)
    p += part.length
  }
  return out
}
const MAGIC = [0xf3, 0x89, 0x9a, 0xc2]

const SHARD = "shardId-000000000007"
const ARRIVAL = new Date("2024-05-06T07:08:09.000Z")
let sequence = 1000n
const nextSequence = () => (sequence++).toString()

/** The Kinesis record a consumer would read for an aggregate (Kinesis does not return the explicit hash key). */
const asRecord = (a: Kinesis.PutRecordsEntry, sequenceNumber = nextSequence()): Kinesis.KinesisRecord => ({
  sequenceNumber,
  approximateArrivalTimestamp: ARRIVAL,
  data: a.data,
  partitionKey: a.partitionKey
})

const entries = <A>(values: ReadonlyArray<A>, partitionKey = "pk"): Array<Processor.Entry<A>> =>
  values.map((value) => ({ value, partitionKey }))

const aggregateOk = <A>(
  processor: Processor.Processor<A>,
  input: ReadonlyArray<Processor.Entry<A>>,
  options?: Processor.AccumulatorOptions
): ReadonlyArray<Processor.Aggregate<A>> => {
  const result = Processor.aggregate(processor, input, options)
  if (Either.isLeft(result)) assert.fail(`aggregate failed: ${result.left.message}`)
  return result.right
}

const deaggregateOk = <A>(processor: Processor.Processor<A>, record: Kinesis.KinesisRecord) => {
  const result = processor.deaggregate(record, SHARD)
  if (Either.isLeft(result)) assert.fail(`deaggregate failed: ${result.left.message}`)
  return result.right
}

const decodeError = <A>(processor: Processor.Processor<A>, record: Kinesis.KinesisRecord) => {
  const result = processor.deaggregate(record, SHARD)
  if (Either.isRight(result)) assert.fail("expected a DecodeError")
  return result.left
}

const stringLines = Processor.make({
  name: "stringLines",
  serializer: Processor.stringSerializer,
  aggregator: Processor.newlineAggregator
})
const stringNetstrings = Processor.make({
  name: "stringNetstrings",
  serializer: Processor.stringSerializer,
  aggregator: Processor.netstringAggregator
})

describe("Processor", () => {
  describe("wire formats", () => {
    it("newline: each item followed by \\n", () => {
      const [record, ...rest] = aggregateOk(stringLines, entries(["123", "test"]))
      assert.strictEqual(rest.length, 0)
      assert.strictEqual(latin1(record.data), "123\ntest\n")
      const [json] = aggregateOk(Processor.jsonLines, entries([123, { a: "x\ny" }, "test"]))
      assert.strictEqual(latin1(json.data), "123\n{\"a\":\"x\\ny\"}\n\"test\"\n")
    })

    it("netstring: <length>:<bytes>, per item (UTF-8 byte lengths)", () => {
      const [record] = aggregateOk(stringNetstrings, entries(["123", "test", "", "ü"]))
      assert.strictEqual(latin1(record.data), "3:123,4:test,0:,2:\u00c3\u00bc,")
      const [packed] = aggregateOk(Processor.msgpack, entries([1, "a", [true]]))
      assert.deepStrictEqual([...packed.data], [
        ...bytes("1:"),
        0x01,
        ...bytes(",2:"),
        0xa1,
        0x61,
        ...bytes(",2:"),
        0x91,
        0xc3,
        0x2c
      ])
    })

    it("jsonList: one JSON array per record", () => {
      const [record] = aggregateOk(Processor.jsonList, entries([1, "a", { b: null }, [2, "]"]]))
      assert.strictEqual(new TextDecoder().decode(record.data), "[1,\"a\",{\"b\":null},[2,\"]\"]]")
    })

    it("string, json and bytes: one user record per Kinesis record, data as is", () => {
      const strings = aggregateOk(Processor.string, entries(["123", "ü"]))
      assert.deepStrictEqual(strings.map((r) => [...r.data]), [[0x31, 0x32, 0x33], [0xc3, 0xbc]])
      const json = aggregateOk(Processor.json, entries([{ a: [1, 2] }, "x"]))
      assert.deepStrictEqual(json.map((r) => latin1(r.data)), ["{\"a\":[1,2]}", "\"x\""])
      const raw = new Uint8Array([0, 255, 7])
      const [record] = aggregateOk(Processor.bytes, entries([raw]))
      assert.strictEqual(record.data, raw)
    })

    it("KPL: magic, AggregatedRecord (tables, then records), MD5 of the protobuf bytes", () => {
      const [record, ...rest] = aggregateOk(Processor.kplString, [
        { value: "x", partitionKey: "a" },
        { value: "yz", partitionKey: "b", explicitHashKey: "42" },
        { value: "", partitionKey: "a" }
      ])
      assert.strictEqual(rest.length, 0)
      const protobuf = [
        ...[0x0a, 1, 0x61], // partition_key_table: "a"
        ...[0x0a, 1, 0x62], // partition_key_table: "b"
        ...[0x12, 2, 0x34, 0x32], // explicit_hash_key_table: "42"
        ...[0x1a, 5, 0x08, 0, 0x1a, 1, 0x78], // record { partition_key_index: 0, data: "x" }
        ...[0x1a, 8, 0x08, 1, 0x10, 0, 0x1a, 2, 0x79, 0x7a], // record { 1, explicit_hash_key_index: 0, "yz" }
        ...[0x1a, 4, 0x08, 0, 0x1a, 0] // record { 0, "" }
      ]
      const expected = concat(MAGIC, protobuf, md5(new Uint8Array(protobuf)))
      assert.deepStrictEqual([...record.data], [...expected])
      assert.strictEqual(record.partitionKey, "a")
      assert.strictEqual(record.size, expected.length + 1)
      assert.deepStrictEqual(record.records.map((r) => r.value), ["x", "yz", ""])
    })

    it("KPL: an aggregate of exactly one record is valid both ways", () => {
      const [record] = aggregateOk(Processor.kplJson, entries([{ n: 1 }], "only"))
      assert.deepStrictEqual([...record.data.subarray(0, 4)], MAGIC)
      const [user, ...rest] = deaggregateOk(Processor.kplJson, asRecord(record))
      assert.strictEqual(rest.length, 0)
      assert.deepStrictEqual(user.value, { n: 1 })
      assert.strictEqual(user.subSequenceNumber, 0)
      assert.strictEqual(user.partitionKey, "only")
    })
  })

  describe("producer side", () => {
    it("groups by partition key (and explicit hash key) where the format cannot carry keys, keeping order", () => {
      const input: Array<Processor.Entry<unknown>> = [
        { value: 1, partitionKey: "a" },
        { value: 2, partitionKey: "b" },
        { value: 3, partitionKey: "a" },
        { value: 4, partitionKey: "a", explicitHashKey: "7" },
        { value: 5, partitionKey: "b" }
      ]
      for (const processor of [Processor.jsonLines, Processor.jsonList, Processor.msgpack]) {
        const records = aggregateOk(processor, input)
        const byKey = records.map((r) => ({
          partitionKey: r.partitionKey,
          explicitHashKey: r.explicitHashKey,
          values: deaggregateOk(processor, asRecord(r)).map((u) => u.value),
          carried: r.records.map((e) => e.value)
        }))
        assert.deepStrictEqual(byKey, [
          { partitionKey: "a", explicitHashKey: undefined, values: [1, 3], carried: [1, 3] },
          { partitionKey: "b", explicitHashKey: undefined, values: [2, 5], carried: [2, 5] },
          { partitionKey: "a", explicitHashKey: "7", values: [4], carried: [4] }
        ], processor.name)
      }
    })

    it("string and json keep one record per user record with its own keys", () => {
      const input = [{ value: "x", partitionKey: "a", explicitHashKey: "5" }, { value: "y", partitionKey: "a" }]
      const records = aggregateOk(Processor.string, input)
      assert.deepStrictEqual(
        records.map((r) => [latin1(r.data), r.partitionKey, r.explicitHashKey, r.records[0]]),
        [["x", "a", "5", input[0]], ["y", "a", undefined, input[1]]]
      )
    })

    it("KPL mixes partition keys in one aggregate routed by the given explicit hash key", () => {
      const input: Array<Processor.Entry<string>> = [
        { value: "1", partitionKey: "ключ" },
        { value: "2", partitionKey: "😀", explicitHashKey: "12345" },
        { value: "3", partitionKey: "ключ" }
      ]
      const shardKey = "170141183460469231731687303715884105728"
      const [aggregate, ...rest] = aggregateOk(Processor.kplString, input, { explicitHashKey: shardKey })
      assert.strictEqual(rest.length, 0)
      assert.strictEqual(aggregate.explicitHashKey, shardKey)
      assert.strictEqual(aggregate.partitionKey, "ключ")
      assert.strictEqual(aggregate.records.length, 3)
      assert.isTrue(aggregate.records.every((r, i) => r === input[i]))
      const users = deaggregateOk(Processor.kplString, asRecord(aggregate, "900"))
      assert.deepStrictEqual(
        users.map((u) => [u.value, u.partitionKey, u.explicitHashKey, u.sequenceNumber, u.subSequenceNumber]),
        [["1", "ключ", undefined, "900", 0], ["2", "😀", "12345", "900", 1], ["3", "ключ", undefined, "900", 2]]
      )
      // without a shard key, an aggregate goes where its first record goes
      const [first] = aggregateOk(Processor.kplString, [input[1], input[0]])
      assert.strictEqual(first.explicitHashKey, "12345")
      assert.strictEqual(first.partitionKey, "😀")
    })

    it("KPL aggregates stay within 51,200 bytes by default and the size counts data plus partition key", () => {
      const value = "x".repeat(100)
      const input = Array.from({ length: 1000 }, (_, i) => ({ value, partitionKey: `key-${i}` }))
      const records = aggregateOk(Processor.kplString, input)
      assert.isAbove(records.length, 1)
      for (const r of records) {
        assert.isAtMost(r.size, Processor.defaults.kplMaxAggregateSize)
        assert.strictEqual(r.size, r.data.length + Buffer.byteLength(r.partitionKey))
      }
      // full: each aggregate but the last would overflow with the next record
      assert.isAbove(records[0].size, Processor.defaults.kplMaxAggregateSize - 200)
      assert.deepStrictEqual(records.flatMap((r) => r.records), input)
      const read = records.flatMap((r) => deaggregateOk(Processor.kplString, asRecord(r)))
      assert.deepStrictEqual(read.map((u) => [u.value, u.partitionKey]), input.map((e) => [e.value, e.partitionKey]))
    })

    it("add returns completed records when the next item would overflow; flush returns the rest", () => {
      const accumulator = stringLines.accumulator({ maxAggregateSize: 2 + 3 * 4 }) // pk "pk" + three "abc\n"
      const first = Either.getOrThrow(accumulator.add(entries(["abc", "def"])))
      assert.strictEqual(first.length, 0)
      assert.strictEqual(accumulator.pendingRecords, 2)
      assert.strictEqual(accumulator.pendingBytes, 2 + 8)
      const second = Either.getOrThrow(accumulator.add(entries(["ghi", "jkl"])))
      // "ghi" fills the aggregate exactly: completed at once
      assert.deepStrictEqual(second.map((r) => latin1(r.data)), ["abc\ndef\nghi\n"])
      assert.strictEqual(second[0].size, 14)
      assert.strictEqual(accumulator.pendingRecords, 1)
      // "mnopqrst" would overflow "jkl": that aggregate is completed first
      const third = Either.getOrThrow(accumulator.add(entries(["mnopqrst", "r"])))
      assert.deepStrictEqual(third.map((r) => latin1(r.data)), ["jkl\n"])
      assert.strictEqual(accumulator.pendingBytes, 2 + 9 + 2)
      assert.deepStrictEqual(accumulator.flush().map((r) => latin1(r.data)), ["mnopqrst\nr\n"])
      assert.strictEqual(accumulator.pendingRecords, 0)
      assert.strictEqual(accumulator.pendingBytes, 0)
      assert.deepStrictEqual(accumulator.flush(), [])
    })

    it("a record larger than the aggregate size gets an aggregate of its own, up to the record size", () => {
      const big = "b".repeat(60_000)
      const records = aggregateOk(Processor.kplString, entries(["s1", big, "s2"]))
      assert.deepStrictEqual(records.map((r) => r.records.map((e) => e.value.length)), [[2], [60_000], [2]])
    })

    it("RecordTooLarge for a user record that cannot fit in the maximum record size", () => {
      const justFits = "x".repeat(Processor.defaults.maxRecordSize - 2)
      assert.isTrue(Either.isRight(Processor.aggregate(Processor.string, entries([justFits]))))
      for (const processor of [Processor.string, Processor.kplString, stringLines]) {
        const tooBig = "x".repeat(Processor.defaults.maxRecordSize)
        const result = Processor.aggregate(processor, [{ value: tooBig, partitionKey: "pk" }])
        if (Either.isRight(result)) assert.fail(`${processor.name}: expected RecordTooLarge`)
        const error = result.left
        if (error._tag !== "RecordTooLarge") assert.fail(`${processor.name}: ${error._tag}`)
        assert.strictEqual(error.maxSize, Processor.defaults.maxRecordSize)
        assert.isAbove(error.size, Processor.defaults.maxRecordSize)
        assert.strictEqual(error.partitionKey, "pk")
        assert.strictEqual(error.record, tooBig)
      }
      // the limit is an option, up to 10 MiB
      const twoMiB = "y".repeat(2 * 1024 * 1024)
      const big = aggregateOk(Processor.string, entries([twoMiB]), {
        maxRecordSize: Processor.defaults.maxRecordSizeLimit
      })
      assert.strictEqual(big[0].size, 2 * 1024 * 1024 + 2)
      assert.throws(() => Processor.string.accumulator({ maxRecordSize: Processor.defaults.maxRecordSizeLimit + 1 }))
      assert.throws(() => Processor.string.accumulator({ maxAggregateSize: 0 }))
    })

    it("EncodeError names the record for values the serializer cannot encode", () => {
      const circular: { self?: unknown } = {}
      circular.self = circular
      const cases: Array<[Processor.Processor<unknown>, unknown]> = [
        [Processor.json, circular],
        [Processor.jsonLines, 10n],
        [Processor.kplJson, undefined],
        [Processor.jsonList, () => 1],
        [Processor.msgpack, 2n ** 70n]
      ]
      for (const [processor, value] of cases) {
        const result = Processor.aggregate(processor, [{ value, partitionKey: "pk" }])
        if (Either.isRight(result) || result.left._tag !== "EncodeError") {
          assert.fail(`${processor.name}: no EncodeError`)
        }
        assert.strictEqual(result.left.record, value)
        assert.instanceOf(result.left.cause, Error)
      }
      const line = Processor.aggregate(stringLines, entries(["two\nlines"]))
      assert.isTrue(Either.isLeft(line) && line.left._tag === "EncodeError" && line.left.record === "two\nlines")
    })

    it("add is all or nothing: a failure leaves the accumulator unchanged", () => {
      const accumulator = Processor.jsonLines.accumulator()
      Either.getOrThrow(accumulator.add(entries([1])))
      const failed = accumulator.add(entries([2, 3n, 4]))
      assert.isTrue(Either.isLeft(failed))
      assert.strictEqual(accumulator.pendingRecords, 1)
      assert.deepStrictEqual(accumulator.flush().map((r) => latin1(r.data)), ["1\n"])
    })
  })

  describe("building your own", () => {
    // a 2-byte big-endian length before each item: an aggregator written against the public contract
    class PrefixBuilder implements Processor.AggregateBuilder {
      items: Array<Uint8Array> = []
      dataLength = 0
      get count() {
        return this.items.length
      }
      tryAdd(item: Uint8Array, _pk: string, _ehk: string | undefined, maxDataLength: number) {
        if (this.items.length > 0 && this.dataLength + item.length + 2 > maxDataLength) return false
        this.items.push(item)
        this.dataLength += item.length + 2
        return true
      }
      build() {
        const out = new Uint8Array(this.dataLength)
        let p = 0
        for (const item of this.items) {
          out[p++] = item.length >> 8
          out[p++] = item.length & 0xff
          out.set(item, p)
          p += item.length
        }
        this.items = []
        this.dataLength = 0
        return out
      }
    }
    const lengthPrefixed: Processor.Aggregator = {
      name: "lengthPrefixed",
      carriesPartitionKeys: false,
      maxRecords: Number.MAX_SAFE_INTEGER,
      defaultMaxAggregateSize: 64,
      validate: (item) => (item.length > 0xffff ? "longer than 65,535 bytes" : undefined),
      dataLengthOf: (itemLength) => itemLength + 2,
      builder: () => new PrefixBuilder(),
      unpack: (record, emit) => {
        const data = record.data
        let p = 0
        for (let i = 0; p < data.length; i++) {
          if (p + 2 > data.length) throw new Error("truncated length")
          const n = (data[p] << 8) | data[p + 1]
          if (p + 2 + n > data.length) throw new Error("truncated item")
          emit(data.subarray(p + 2, p + 2 + n), i, record.partitionKey, undefined)
          p += 2 + n
        }
      }
    }
    const csv = Processor.make({
      name: "csv",
      serializer: {
        encode: (row: ReadonlyArray<string>) => bytes(row.join(",")),
        decode: (data) => new TextDecoder().decode(data).split(",")
      },
      aggregator: lengthPrefixed
    })

    it("make: a custom serializer and a custom aggregator", () => {
      const rows = [["a", "b"], ["c"], ["d", "e", "f"]]
      const [record] = aggregateOk(csv, entries(rows))
      assert.deepStrictEqual([...record.data], [0, 3, ...bytes("a,b"), 0, 1, ...bytes("c"), 0, 5, ...bytes("d,e,f")])
      assert.deepStrictEqual(deaggregateOk(csv, asRecord(record)).map((u) => [u.value, u.subSequenceNumber]), [
        [["a", "b"], 0],
        [["c"], 1],
        [["d", "e", "f"], 2]
      ])
      // the aggregator's default size (64 bytes with the 2-byte key) splits records
      const many = aggregateOk(csv, entries(Array.from({ length: 20 }, (_, i) => [`row-${i}`])))
      assert.isAbove(many.length, 1)
      assert.isTrue(many.every((r) => r.size <= 64))
      // a thrown error in unpack is a DecodeError
      const truncated = decodeError(csv, asRecord({ data: new Uint8Array([0, 9, 1]), partitionKey: "p" }))
      assert.strictEqual((truncated.cause as Error).message, "truncated item")
    })

    it("withMaxAggregateSize changes a processor's default aggregate size", () => {
      const small = Processor.kplString.pipe(Processor.withMaxAggregateSize(200))
      assert.strictEqual(small.maxAggregateSize, 200)
      assert.isTrue(Processor.isProcessor(small))
      const records = aggregateOk(small, entries(Array.from({ length: 30 }, (_, i) => `value-${i}`)))
      assert.isAbove(records.length, 1)
      assert.isTrue(records.every((r) => r.size <= 200))
      // an accumulator option still wins
      assert.strictEqual(aggregateOk(small, entries(["a", "b"]), { maxAggregateSize: 1000 }).length, 1)
    })
  })

  describe("consumer side", () => {
    it("user records carry shard, sequence and sub-sequence numbers, keys and arrival time", () => {
      const [aggregate] = aggregateOk(Processor.jsonLines, entries([1, 2], "k"))
      const users = deaggregateOk(Processor.jsonLines, asRecord(aggregate, "555"))
      assert.deepStrictEqual(users, [
        {
          value: 1,
          shardId: SHARD,
          sequenceNumber: "555",
          subSequenceNumber: 0,
          partitionKey: "k",
          explicitHashKey: undefined,
          approximateArrivalTimestamp: ARRIVAL
        },
        {
          value: 2,
          shardId: SHARD,
          sequenceNumber: "555",
          subSequenceNumber: 1,
          partitionKey: "k",
          explicitHashKey: undefined,
          approximateArrivalTimestamp: ARRIVAL
        }
      ])
      const [plain] = deaggregateOk(Processor.json, asRecord({ data: bytes("3"), partitionKey: "p" }, "556"))
      assert.strictEqual(plain.subSequenceNumber, undefined)
      assert.strictEqual(plain.value, 3)
    })

    it("KPL reads a record without the magic as one plain record with the record's own key", () => {
      const [user, ...rest] = deaggregateOk(
        Processor.kplJson,
        asRecord({ data: bytes("{\"plain\":true}"), partitionKey: "own" }, "77")
      )
      assert.strictEqual(rest.length, 0)
      assert.deepStrictEqual(user.value, { plain: true })
      assert.strictEqual(user.partitionKey, "own")
      assert.strictEqual(user.subSequenceNumber, undefined)
      assert.strictEqual(user.sequenceNumber, "77")
    })

    it("KPL reads a record with the magic but a wrong MD5 as a plain record", () => {
      const [aggregate] = aggregateOk(Processor.kplBytes, entries([bytes("a"), bytes("b")]))
      const corrupt = new Uint8Array(aggregate.data)
      corrupt[corrupt.length - 1] ^= 0xff
      const users = deaggregateOk(Processor.kplBytes, asRecord({ data: corrupt, partitionKey: "pk" }))
      assert.strictEqual(users.length, 1)
      assert.deepStrictEqual([...users[0].value], [...corrupt])
      assert.strictEqual(users[0].subSequenceNumber, undefined)
      // a bare magic (shorter than magic + MD5) is plain too
      assert.strictEqual(
        deaggregateOk(Processor.kplBytes, asRecord({ data: new Uint8Array(MAGIC), partitionKey: "p" })).length,
        1
      )
    })

    it("DecodeError carries shard id, sequence number, sub-sequence number and the cause", () => {
      const [aggregate] = aggregateOk(Processor.kplString, entries(["1", "{bad", "3"]))
      const error = decodeError(Processor.kplJson, asRecord(aggregate, "4242"))
      assert.strictEqual(error._tag, "DecodeError")
      assert.strictEqual(error.shardId, SHARD)
      assert.strictEqual(error.sequenceNumber, "4242")
      assert.strictEqual(error.subSequenceNumber, 1)
      assert.instanceOf(error.cause, SyntaxError)

      const lines = decodeError(Processor.jsonLines, asRecord({ data: bytes("1\n{\n3\n"), partitionKey: "p" }))
      assert.strictEqual(lines.subSequenceNumber, 1)
      const json = decodeError(Processor.json, asRecord({ data: bytes("nope"), partitionKey: "p" }))
      assert.strictEqual(json.subSequenceNumber, undefined)
      const utf8 = decodeError(Processor.string, asRecord({ data: new Uint8Array([0x61, 0xc3]), partitionKey: "p" }))
      assert.instanceOf(utf8.cause, TypeError)
      const truncatedArray = concat(bytes("2:"), [0x93, 0x01], bytes(","))
      const packed = decodeError(Processor.msgpack, asRecord({ data: truncatedArray, partitionKey: "p" }))
      assert.strictEqual(packed.subSequenceNumber, 0)
    })

    it("malformed framings are DecodeErrors, not crashes", () => {
      const bad: Array<[Processor.Processor<unknown>, string, number]> = [
        [Processor.msgpack, "3:ab,", 0],
        [Processor.msgpack, "1:\u0001,x", 1],
        [Processor.msgpack, "99999999999:", 0],
        [Processor.jsonList, "{\"a\":1}", 0],
        [Processor.jsonList, "[1,2", 1],
        [Processor.jsonList, "[1,,2]", 1],
        [Processor.jsonList, "[1] x", 1]
      ]
      for (const [processor, data, sub] of bad) {
        const error = decodeError(processor, asRecord({ data: bytes(data), partitionKey: "p" }))
        assert.strictEqual(error.subSequenceNumber, sub, `${processor.name} ${JSON.stringify(data)}`)
      }
      assert.deepStrictEqual(
        deaggregateOk(Processor.jsonList, asRecord({ data: bytes(" [ 1 , {\"a\" : [ \"]\" ]} ] "), partitionKey: "p" }))
          .map((u) => u.value),
        [1, { a: ["]"] }]
      )
      assert.deepStrictEqual(deaggregateOk(Processor.jsonList, asRecord({ data: bytes("[]"), partitionKey: "p" })), [])
      // a last line without its newline is still read
      assert.deepStrictEqual(
        deaggregateOk(Processor.jsonLines, asRecord({ data: bytes("1\n2"), partitionKey: "p" })).map((u) => u.value),
        [1, 2]
      )
    })

    it("a KPL aggregate with a right MD5 but a malformed protobuf is a DecodeError", () => {
      const cases: Array<ReadonlyArray<number>> = [
        [0x0a, 5, 0x61], // truncated partition key
        [0x1a, 2, 0x1a, 0], // record without partition_key_index
        [0x0a, 1, 0x61, 0x1a, 5, 0x08, 3, 0x1a, 1, 0x78], // partition_key_index out of the table
        [0x0b] // unsupported wire type
      ]
      for (const protobuf of cases) {
        const data = concat(MAGIC, protobuf, md5(new Uint8Array(protobuf)))
        const error = decodeError(Processor.kplBytes, asRecord({ data, partitionKey: "p" }))
        assert.strictEqual(error._tag, "DecodeError")
      }
      // unknown fields and tags are skipped
      const protobuf = [
        ...[0x0a, 1, 0x61],
        ...[0x20, 0x05], // unknown varint field 4
        ...[0x1a, 12, 0x08, 0, 0x1a, 1, 0x78, 0x22, 5, 0x0a, 1, 0x6b, 0x12, 0] // with tags: [{ key: "k", value: "" }]
      ]
      const data = concat(MAGIC, protobuf, md5(new Uint8Array(protobuf)))
      const users = deaggregateOk(Processor.kplString, asRecord({ data, partitionKey: "p" }))
      assert.deepStrictEqual(users.map((u) => [u.value, u.partitionKey]), [["x", "a"]])
    })

    it("deaggregateLenient keeps the records that decode and reports the others", () => {
      const [aggregate] = aggregateOk(Processor.kplString, entries(["1", "oops", "3"]))
      const result = Processor.kplJson.deaggregateLenient(asRecord(aggregate, "31"), SHARD)
      assert.deepStrictEqual(result.records.map((u) => [u.value, u.subSequenceNumber]), [[1, 0], [3, 2]])
      assert.strictEqual(result.failures.length, 1)
      assert.strictEqual(result.failures[0].subSequenceNumber, 1)
      assert.strictEqual(result.failures[0].sequenceNumber, "31")
      const framing = Processor.msgpack.deaggregateLenient(
        asRecord({ data: bytes("1:\u0001,x"), partitionKey: "p" }),
        SHARD
      )
      assert.deepStrictEqual(framing.records.map((u) => u.value), [1])
      assert.strictEqual(framing.failures.length, 1)
    })
  })

  describe("Schema", () => {
    const Event = Schema.Struct({ id: Schema.NumberFromString, at: Schema.DateFromString })
    const events = Processor.schemaJson(Event)

    it("encodes with the schema, then JSON; decodes back to the typed value", () => {
      const value = { id: 7, at: new Date("2024-01-02T03:04:05.000Z") }
      const [record] = aggregateOk(events, entries([value]))
      assert.strictEqual(latin1(record.data), "{\"id\":\"7\",\"at\":\"2024-01-02T03:04:05.000Z\"}")
      const [user] = deaggregateOk(events, asRecord(record))
      assert.deepStrictEqual(user.value, value)
      // over a KPL base: the base's aggregation is kept
      const kplEvents = Processor.schema(Event, Processor.kplJson)
      assert.strictEqual(kplEvents.aggregator.name, "kpl")
      assert.strictEqual(kplEvents.maxAggregateSize, Processor.defaults.kplMaxAggregateSize)
      const [aggregate] = aggregateOk(kplEvents, entries([value, value]))
      assert.deepStrictEqual(deaggregateOk(kplEvents, asRecord(aggregate)).map((u) => u.value), [value, value])
    })

    it("an encode failure is an EncodeError with the ParseError as cause", () => {
      const positive = Processor.schemaJson(Schema.Struct({ n: Schema.Number.pipe(Schema.positive()) }))
      const invalid = { n: -1 }
      const result = Processor.aggregate(positive, entries([invalid]))
      if (Either.isRight(result) || result.left._tag !== "EncodeError") return assert.fail("expected EncodeError")
      assert.strictEqual(result.left.record, invalid)
      assert.isTrue(ParseResult.isParseError(result.left.cause))
    })

    it("a decode failure is a DecodeError with the ParseError as cause", () => {
      const error = decodeError(events, asRecord({ data: bytes("{\"id\":\"x\",\"at\":\"2024\"}"), partitionKey: "p" }))
      assert.isTrue(ParseResult.isParseError(error.cause))
      assert.strictEqual(error.shardId, SHARD)
    })

    it("schema over a string processor", () => {
      const numbers = Processor.schema(Schema.NumberFromString, stringLines)
      const [record] = aggregateOk(numbers, entries([1, 2.5]))
      assert.strictEqual(latin1(record.data), "1\n2.5\n")
      assert.deepStrictEqual(deaggregateOk(numbers, asRecord(record)).map((u) => u.value), [1, 2.5])
    })
  })

  describe("round trips (property-based)", () => {
    // JSON cannot carry -0 (it reads back as 0): normalise it away
    const jsonValue = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown)
    const key = fc.string({ unit: "binary", minLength: 1, maxLength: 24 })
    const keys = fc.array(key, { minLength: 1, maxLength: 4 })
    const hashKey = fc.option(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String), { nil: undefined })
    const withKeys = <A>(value: fc.Arbitrary<A>) =>
      keys.chain((ks) =>
        fc.array(
          fc.record({ value, partitionKey: fc.constantFrom(...ks), explicitHashKey: hashKey }, {
            requiredKeys: ["value", "partitionKey"]
          }),
          { maxLength: 40 }
        )
      )
    const chunks = fc.array(fc.nat(6), { minLength: 1, maxLength: 8 })

    /**
     * Adds the entries in chunks with a small aggregate size, reads every Kinesis record back, and
     * checks: values, keys and order per partition key; sub-sequence numbers; sizes within limits.
     */
    const roundTrip = <A>(
      processor: Processor.Processor<A>,
      input: ReadonlyArray<Processor.Entry<A>>,
      chunkSizes: ReadonlyArray<number>,
      maxAggregateSize: number
    ) => {
      const accumulator = processor.accumulator({ maxAggregateSize })
      const out: Array<Processor.Aggregate<A>> = []
      let offset = 0
      let c = 0
      while (offset < input.length) {
        const size = chunkSizes[c++ % chunkSizes.length] + 1
        out.push(...Either.getOrThrow(accumulator.add(input.slice(offset, offset + size))))
        offset += size
      }
      out.push(...accumulator.flush())
      const limit = Math.min(maxAggregateSize, Processor.defaults.maxRecordSize)
      const read: Array<Processor.UserRecord<A>> = []
      for (const aggregate of out) {
        assert.strictEqual(aggregate.size, aggregate.data.length + Buffer.byteLength(aggregate.partitionKey))
        if (aggregate.records.length > 1) assert.isAtMost(aggregate.size, limit)
        const users = deaggregateOk(processor, asRecord(aggregate))
        assert.strictEqual(users.length, aggregate.records.length)
        users.forEach((u, i) => {
          const entry = aggregate.records[i]
          assert.strictEqual(u.partitionKey, entry.partitionKey)
          if (processor.aggregator.maxRecords > 1) assert.strictEqual(u.subSequenceNumber, i)
          if (processor.aggregator.carriesPartitionKeys) assert.strictEqual(u.explicitHashKey, entry.explicitHashKey)
        })
        read.push(...users)
      }
      // order is kept per (partition key, explicit hash key): the unit a shard receives in order
      const perKey = (
        records: ReadonlyArray<{ readonly partitionKey: string; readonly value: A }>,
        hashKeys: ReadonlyArray<string | undefined>
      ) => {
        const map = new Map<string, Array<A>>()
        records.forEach((r, i) => {
          const k = JSON.stringify([r.partitionKey, hashKeys[i] ?? null])
          map.set(k, [...(map.get(k) ?? []), r.value])
        })
        return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      }
      const readHashKeys = out.flatMap((a) => a.records.map((e) => e.explicitHashKey))
      assert.deepStrictEqual(perKey(read, readHashKeys), perKey(input, input.map((e) => e.explicitHashKey)))
      if (processor.aggregator.carriesPartitionKeys || processor.aggregator.maxRecords === 1) {
        // one accumulator per shard (or no grouping): overall order is kept
        assert.deepStrictEqual(read.map((r) => r.value), input.map((e) => e.value))
      }
    }

    const check = <A>(processor: Processor.Processor<A>, value: fc.Arbitrary<A>) =>
      fc.assert(
        fc.property(withKeys(value), chunks, fc.integer({ min: 1, max: 600 }), (input, chunkSizes, maxSize) =>
          roundTrip(processor, input, chunkSizes, maxSize)),
        { numRuns: 60 }
      )

    const data = fc.uint8Array({ maxLength: 80 })
    const text = fc.string({ unit: "binary", maxLength: 40 })

    it("bytes", () => check(Processor.bytes, data))
    it("string", () => check(Processor.string, text))
    it("json", () => check(Processor.json, jsonValue))
    it("jsonLines", () => check(Processor.jsonLines, jsonValue))
    it("jsonList", () => check(Processor.jsonList, jsonValue))
    // msgpackr renames a "__proto__" key to "__proto_" when it reads (its prototype-pollution guard)
    it("msgpack", () => check(Processor.msgpack, jsonValue.filter((v) => !JSON.stringify(v).includes("\"__proto__\""))))
    it("kplBytes", () => check(Processor.kplBytes, data))
    it("kplString", () => check(Processor.kplString, text))
    it("kplJson", () => check(Processor.kplJson, jsonValue))
    it("netstring strings (make)", () => check(stringNetstrings, text))
    it("schema over kplJson", () =>
      check(
        Processor.schema(Schema.Struct({ n: Schema.NumberFromString, s: Schema.String }), Processor.kplJson),
        fc.record({ n: fc.integer(), s: text })
      ))
  })

  layer(kinesaliteLayer(), { excludeTestServices: true })("through a Kinesis stream (kinesalite)", (it) => {
    it.effect("KPL aggregates put with PutRecords read back into the same user records", () =>
      Effect.gen(function*() {
        const stream = freshStream("processor")
        yield* Kinesis.createStream({ streamName: stream.name, shardCount: 1, waitUntilActive: true })
        const input = Array.from(
          { length: 300 },
          (_, i) => ({ value: { i, text: "ü".repeat(i % 50) }, partitionKey: `k${i % 7}` })
        )
        const aggregates = aggregateOk(Processor.kplJson, input, { maxAggregateSize: 4096 })
        const put = yield* Kinesis.putRecords({ stream, records: aggregates })
        assert.strictEqual(put.failedRecordCount, 0)
        const [shard] = yield* Kinesis.listShards({ stream })
        const iterator = yield* Kinesis.getShardIterator({
          stream,
          shardId: shard.shardId,
          position: { type: "TRIM_HORIZON" }
        })
        const { records } = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 10_000 })
        assert.strictEqual(records.length, aggregates.length)
        const users = records.flatMap((r) => deaggregateOk(Processor.kplJson, r))
        assert.deepStrictEqual(users.map((u) => [u.value, u.partitionKey]), input.map((e) => [e.value, e.partitionKey]))
        assert.isTrue(users.every((u) => u.subSequenceNumber !== undefined))
      }))
  })
})
