/**
 * Processors: KPL encode/decode throughput against the reference `aws-kinesis-agg` package, the
 * protobuf decision for KPL (our hand-written codec vs the same codec over protobufjs 7.6), and the
 * records/s of the JSON and msgpack processors against a bare serialization loop.
 */
import { type Kinesis, Processor } from "@effect-kinesis/core"
import { Either } from "effect"
import { Packr } from "msgpackr"
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import protobuf from "protobufjs"
import { compare, median, type Row, type Suite, timeOnce } from "./harness.js"

const PER_AGGREGATE = 1000
const ROUNDS = 15
const WARMUP = 3

// ---------------------------------------------------------------------------------------------
// aws-kinesis-agg (its shipped typings need aws-sdk v2 and omit RecordAggregator)
// ---------------------------------------------------------------------------------------------

interface AwsKinesisAgg {
  readonly deaggregateSync: (
    record: { readonly data: string; readonly partitionKey: string; readonly sequenceNumber: string },
    computeChecksums: boolean,
    callback: (error: Error | null | undefined, records?: ReadonlyArray<{ readonly data: string }>) => void
  ) => void
  readonly RecordAggregator: new() => {
    addUserRecord(record: { readonly partitionKey: string; readonly data: Buffer }): void
    build(): { readonly partitionKey: string; readonly data: Buffer } | undefined
  }
}
const agg = createRequire(import.meta.url)("aws-kinesis-agg") as AwsKinesisAgg

// ---------------------------------------------------------------------------------------------
// the alternative: the same KPL codec over protobufjs 7.6
// ---------------------------------------------------------------------------------------------

const AggregatedRecord = protobuf.Root.fromJSON({
  nested: {
    Tag: {
      fields: { key: { rule: "required", type: "string", id: 1 }, value: { type: "string", id: 2 } }
    },
    Record: {
      fields: {
        partition_key_index: { rule: "required", type: "uint64", id: 1 },
        explicit_hash_key_index: { type: "uint64", id: 2 },
        data: { rule: "required", type: "bytes", id: 3 },
        tags: { rule: "repeated", type: "Tag", id: 4 }
      }
    },
    AggregatedRecord: {
      fields: {
        partition_key_table: { rule: "repeated", type: "string", id: 1 },
        explicit_hash_key_table: { rule: "repeated", type: "string", id: 2 },
        records: { rule: "repeated", type: "Record", id: 3 }
      }
    }
  }
}).lookupType("AggregatedRecord")

const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2])

const protobufjsEncode = (entries: ReadonlyArray<Processor.Entry<Uint8Array>>): Uint8Array => {
  const index = new Map<string, number>()
  const table: Array<string> = []
  const records = entries.map((e) => {
    let i = index.get(e.partitionKey)
    if (i === undefined) {
      i = table.length
      index.set(e.partitionKey, i)
      table.push(e.partitionKey)
    }
    return { partition_key_index: i, data: e.value }
  })
  const body = AggregatedRecord.encode({ partition_key_table: table, explicit_hash_key_table: [], records }).finish()
  return Buffer.concat([MAGIC, body, createHash("md5").update(body).digest()])
}

interface Decoded {
  readonly partition_key_table: ReadonlyArray<string>
  readonly explicit_hash_key_table: ReadonlyArray<string>
  readonly records: ReadonlyArray<{
    readonly partition_key_index: number | { toNumber(): number }
    readonly explicit_hash_key_index?: number | { toNumber(): number } | null
    readonly data: Uint8Array
  }>
}
const toNumber = (n: number | { toNumber(): number }) => (typeof n === "number" ? n : n.toNumber())

const protobufjsDecode = (record: Kinesis.KinesisRecord, shardId: string) => {
  const data = record.data
  const body = data.subarray(4, data.length - 16)
  const digest = createHash("md5").update(body).digest()
  if (!digest.equals(data.subarray(data.length - 16))) throw new Error("bad MD5")
  const message = AggregatedRecord.decode(body) as unknown as Decoded
  return message.records.map((r, i) => ({
    value: r.data,
    shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: i,
    partitionKey: message.partition_key_table[toNumber(r.partition_key_index)],
    explicitHashKey: r.explicit_hash_key_index == null
      ? undefined
      : message.explicit_hash_key_table[toNumber(r.explicit_hash_key_index)],
    approximateArrivalTimestamp: record.approximateArrivalTimestamp
  }))
}

// ---------------------------------------------------------------------------------------------
// workloads
// ---------------------------------------------------------------------------------------------

let seed = 42
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed
}
const randomBytes = (n: number) => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = random() & 0xff
  return out
}

/** `aggregates` × 1,000 user records of `size` bytes, each with its own partition key. */
const kplWorkload = (size: number, aggregates: number) =>
  Array.from(
    { length: aggregates },
    (_, a) =>
      Array.from({ length: PER_AGGREGATE }, (_, i): Processor.Entry<Uint8Array> => ({
        value: randomBytes(size),
        partitionKey: `${a}-${i}`
      }))
  )

const asRecord = (data: Uint8Array, partitionKey: string, i: number): Kinesis.KinesisRecord => ({
  sequenceNumber: `4959033827149025660855969253836157109592157598913658${String(i).padStart(4, "0")}`,
  approximateArrivalTimestamp: new Date(0),
  data,
  partitionKey
})

let sink = 0
const consume = (n: number) => {
  sink = (sink + n) | 0
}

const rate = (records: number, ms: number) => records / (ms / 1000)

/** One line per record size on the MD5 floor, for the notes. */
const floors: Array<string> = []

const kplRows = async (size: number): Promise<Array<Row>> => {
  const aggregates = size <= 128 ? 40 : 10
  const records = aggregates * PER_AGGREGATE
  const label = `${size === 1024 ? "1 KiB" : `${size} B`} records, ${
    PER_AGGREGATE.toLocaleString("en-US")
  } per aggregate`
  const batches = kplWorkload(size, aggregates)
  // every batch must make exactly one aggregate on both sides, so both do the same work
  const oursEncode = () => {
    for (const batch of batches) {
      const accumulator = Processor.kplBytes.accumulator({ maxAggregateSize: Processor.defaults.maxRecordSize })
      const completed = Either.getOrThrow(accumulator.add(batch))
      const rest = accumulator.flush()
      if (completed.length + rest.length !== 1) throw new Error("expected one aggregate")
      consume(rest[0].data.length)
    }
  }
  const theirBatches = batches.map((b) => b.map((e) => ({ partitionKey: e.partitionKey, data: Buffer.from(e.value) })))
  const theirEncode = () => {
    for (const batch of theirBatches) {
      const aggregator = new agg.RecordAggregator()
      for (const r of batch) aggregator.addUserRecord(r)
      consume(aggregator.build()!.data.length)
    }
  }
  const protobufjsEncodeAll = () => {
    for (const batch of batches) consume(protobufjsEncode(batch).length)
  }
  const encoded = batches.map((batch, i) => {
    const [aggregate] = Either.getOrThrow(
      Processor.aggregate(Processor.kplBytes, batch, { maxAggregateSize: Processor.defaults.maxRecordSize })
    )
    return asRecord(aggregate.data, aggregate.partitionKey, i)
  })
  const base64 = encoded.map((r) => ({
    data: Buffer.from(r.data).toString("base64"),
    partitionKey: r.partitionKey,
    sequenceNumber: r.sequenceNumber
  }))
  const oursDecode = () => {
    for (const record of encoded) {
      const users = Either.getOrThrow(Processor.kplBytes.deaggregate(record, "shardId-000000000000"))
      if (users.length !== PER_AGGREGATE) throw new Error("lost records")
      consume(users.length)
    }
  }
  const theirDecode = () => {
    for (const record of base64) {
      agg.deaggregateSync(record, true, (error, users) => {
        if (error || users?.length !== PER_AGGREGATE) throw error ?? new Error("lost records")
        consume(users.length)
      })
    }
  }
  const protobufjsDecodeAll = () => {
    for (const record of encoded) consume(protobufjsDecode(record, "shardId-000000000000").length)
  }

  // the floor both sides share: the format's MD5 over each aggregate's protobuf bytes
  const md5All = () => {
    for (const record of encoded) {
      consume(createHash("md5").update(record.data.subarray(4, record.data.length - 16)).digest()[0])
    }
  }
  const md5Times: Array<number> = []
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const ms = await timeOnce(md5All)
    if (i >= WARMUP) md5Times.push(ms)
  }
  const md5 = median(md5Times)

  const encode = await compare({ rounds: ROUNDS, warmup: WARMUP, ours: oursEncode, baseline: theirEncode })
  const decode = await compare({ rounds: ROUNDS, warmup: WARMUP, ours: oursDecode, baseline: theirDecode })
  const pbEncode = await compare({ rounds: ROUNDS, warmup: WARMUP, ours: oursEncode, baseline: protobufjsEncodeAll })
  const pbDecode = await compare({ rounds: ROUNDS, warmup: WARMUP, ours: oursDecode, baseline: protobufjsDecodeAll })
  const row = (
    name: string,
    result: { readonly ours: number; readonly baseline: number },
    baseline: string,
    goal: boolean
  ): Row => {
    const ratio = result.baseline / result.ours
    return {
      case: `${name}, ${label}`,
      unit: "records/s",
      ours: rate(records, result.ours),
      baseline: { name: baseline, value: rate(records, result.baseline) },
      ratio,
      ratioMeaning: "speed, ours ÷ baseline",
      ...(goal ? { goal: "≥ 3×", pass: ratio >= 3 } : {})
    }
  }
  const beyondMd5 = (result: { readonly ours: number; readonly baseline: number }) =>
    (result.baseline - md5) / (result.ours - md5)
  const megabytes = encoded.reduce((n, r) => n + r.data.length, 0) / 1e6
  floors.push(
    `${label}: MD5 alone runs at ${Math.round(rate(records, md5)).toLocaleString("en-US")} records/s ` +
      `(${Math.round(megabytes / (md5 / 1000))} MB/s); ` +
      `time beyond MD5, aws-kinesis-agg ÷ ours: encode ${beyondMd5(encode).toFixed(1)}×, ` +
      `decode ${beyondMd5(decode).toFixed(1)}×.`
  )
  return [
    row("KPL encode", encode, "aws-kinesis-agg RecordAggregator", true),
    row("KPL decode", decode, "aws-kinesis-agg deaggregateSync", true),
    row("KPL encode, protobuf choice", pbEncode, "same codec over protobufjs 7.6", false),
    row("KPL decode, protobuf choice", pbDecode, "same codec over protobufjs 7.6", false)
  ]
}

// ---------------------------------------------------------------------------------------------
// JSON and msgpack processors vs a bare serialization loop
// ---------------------------------------------------------------------------------------------

const CODEC_RECORDS = 20_000

const codecRows = async (): Promise<Array<Row>> => {
  // ~100 B of JSON each, 8 partition keys
  const values = Array.from({ length: CODEC_RECORDS }, (_, i) => ({
    id: i,
    user: `user-${i % 977}`,
    amount: (i * 37) % 10_000 / 100,
    tags: ["a", "b", String(i % 7)],
    ok: i % 2 === 0
  }))
  const entries = values.map((value, i) => ({ value, partitionKey: `pk-${i % 8}` }))
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  const packr = new Packr({ useRecords: false })
  const bareJsonEncode = () => values.map((v) => encoder.encode(JSON.stringify(v)))
  const bareMsgpackEncode = () => values.map((v) => packr.pack(v))
  const encodedJson = bareJsonEncode()
  const encodedMsgpack = bareMsgpackEncode()
  const bareJsonDecode = () => {
    for (const b of encodedJson) consume(JSON.parse(decoder.decode(b)).id)
  }
  const bareMsgpackDecode = () => {
    for (const b of encodedMsgpack) consume((packr.unpack(b) as { id: number }).id)
  }
  const cases: Array<[Processor.Processor<unknown>, "json" | "msgpack"]> = [
    [Processor.json, "json"],
    [Processor.jsonLines, "json"],
    [Processor.jsonList, "json"],
    [Processor.kplJson, "json"],
    [Processor.msgpack, "msgpack"]
  ]
  const rows: Array<Row> = []
  for (const [processor, kind] of cases) {
    const aggregates = Either.getOrThrow(Processor.aggregate(processor, entries))
    const records = aggregates.map((a, i) => asRecord(a.data, a.partitionKey, i))
    const encode = await compare({
      rounds: ROUNDS,
      warmup: WARMUP,
      ours: () => consume(Either.getOrThrow(Processor.aggregate(processor, entries)).length),
      baseline: kind === "json" ? bareJsonEncode : bareMsgpackEncode
    })
    const decode = await compare({
      rounds: ROUNDS,
      warmup: WARMUP,
      ours: () => {
        for (const record of records) consume(Either.getOrThrow(processor.deaggregate(record, "shardId-0")).length)
      },
      baseline: kind === "json" ? bareJsonDecode : bareMsgpackDecode
    })
    const bare = kind === "json" ? "JSON.stringify + TextEncoder loop" : "msgpackr pack loop"
    const bareDecode = kind === "json" ? "TextDecoder + JSON.parse loop" : "msgpackr unpack loop"
    for (const [what, result, baseline] of [["encode", encode, bare], ["decode", decode, bareDecode]] as const) {
      rows.push({
        case: `${processor.name} ${what}, ~100 B objects (${records.length} Kinesis records)`,
        unit: "records/s",
        ours: rate(CODEC_RECORDS, result.ours),
        baseline: { name: baseline, value: rate(CODEC_RECORDS, result.baseline) },
        ratio: result.baseline / result.ours,
        ratioMeaning: "speed, processor ÷ bare loop"
      })
    }
  }
  return rows
}

const suite: Suite = {
  name: "processor",
  description:
    "KPL aggregation (`Processor.kplBytes`: accumulator `add` + `flush`, and `deaggregate` with MD5 check) vs " +
    "the reference `aws-kinesis-agg` 4.2.8 (`RecordAggregator.addUserRecord` + `build`; `deaggregateSync` with " +
    "checksums) on the same records, each with its own partition key; the same KPL codec written over protobufjs 7.6 " +
    "for the protobuf decision; and the JSON/msgpack processors vs bare serialization loops. " +
    `${ROUNDS} alternating rounds after ${WARMUP} warm-up rounds, medians.`,
  run: async () => {
    const rows = [...(await kplRows(100)), ...(await kplRows(1024)), ...(await codecRows())]
    const byCase = (prefix: string) => rows.filter((r) => r.case.startsWith(prefix))
    const span = (prefix: string) => {
      const ratios = byCase(prefix).map((r) => r.ratio ?? 0)
      const low = Math.min(...ratios).toFixed(1)
      const high = Math.max(...ratios).toFixed(1)
      return low === high ? `${low}×` : `${low}–${high}×`
    }
    const goalRows = rows.filter((r) => r.goal !== undefined)
    const met = goalRows.every((r) => r.pass === true)
    const notes = [
      met
        ? "**Goal ≥ 3× against aws-kinesis-agg: met** in every KPL case."
        : `**Goal ≥ 3× against aws-kinesis-agg: not met** (${goalRows.filter((r) => r.pass !== true).length} of ` +
          `${goalRows.length} cases: ours is ${span("KPL encode, 1")} as fast to encode and ${
            span("KPL decode, 1")
          } as ` +
          "fast to decode). " +
          "Both sides must compute the format's MD5 over every aggregate's protobuf bytes (Node's OpenSSL MD5), and " +
          "at 1 KiB that alone is more than a third of aws-kinesis-agg's time, so no implementation of the format " +
          "in Node can be 3× faster there. How the time beyond that shared MD5 compares:",
      "",
      ...floors.map((line) => `- ${line}`),
      "",
      "**Protobuf for KPL: hand-written.** The three messages (`AggregatedRecord`, `Record`, `Tag`) are encoded " +
      "and decoded by ~200 lines in `packages/core/src/internal/processor/kpl.ts`: exact sizes are known while " +
      "records are added (no re-measuring), the aggregate is written into one buffer, and decoding returns views " +
      "into the record's data instead of copies. Measured here against the same codec over protobufjs 7.6 " +
      `("protobuf choice" rows), the hand-written one is ${span("KPL encode, protobuf")} as fast to encode and ` +
      `${span("KPL decode, protobuf")} as fast to decode, and it is no runtime dependency. protobufjs stays a dev ` +
      "dependency for this comparison.",
      "",
      "aws-kinesis-agg's `deaggregateSync` takes the Lambda event shape (base64 data) and returns base64 data per " +
      "user record: that conversion is part of its API and of its figure. The \"protobuf choice\" rows have no " +
      "base64 on either side.",
      "",
      "The JSON/msgpack rows compare a whole processor (serialize, frame, group by partition key, count sizes; " +
      "unframe and parse) with the bare serialization loop alone, so a ratio below 1× is the processor's overhead."
    ].join("\n")
    if (sink === 42) console.log("")
    return { rows, notes }
  }
}

export default suite
