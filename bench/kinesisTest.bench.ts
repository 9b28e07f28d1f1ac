/**
 * The in-memory engine's own cost: `KinesisTest` PutRecords / GetRecords through the `Kinesis` port
 * (limits off) against a bare loop doing the irreducible work of the same calls — MD5 routing of each
 * partition key to one of the shards, a copy of the data, a sequence number, a push into per-shard
 * arrays, and slices of them to read back.
 */
import { type Kinesis, KinesisTest, StreamAddress } from "@effect-kinesis/core"
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import { compare, type Row, type Suite } from "./harness.js"

const SHARDS = 4
const RECORDS = 500
const BATCHES = 40 // per round: 20,000 records
const ROUNDS = 15
const WARMUP = 3

interface BaselineStore {
  readonly starts: ReadonlyArray<string>
  shards: Array<Array<{ sequenceNumber: string; data: Uint8Array; partitionKey: string; at: Date }>>
  counter: number
}

// the same ranges as the engine's: ⌊i × 2^128 / n⌋ as 32 hex digits
const starts = Array.from(
  { length: SHARDS },
  (_, i) => ((BigInt(i) * (1n << 128n)) / BigInt(SHARDS)).toString(16).padStart(32, "0")
)

const baselinePut = (store: BaselineStore, records: ReadonlyArray<{ data: Uint8Array; partitionKey: string }>) => {
  const at = new Date()
  const results = new Array<{ shardId: number; sequenceNumber: string }>(records.length)
  let total = 0
  for (const record of records) total += record.data.length
  const copy = new Uint8Array(total)
  let offset = 0
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    const hex = Crypto.hash("md5", record.partitionKey, "hex")
    let lo = 0
    let hi = store.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (store.starts[mid]! <= hex) lo = mid
      else hi = mid - 1
    }
    const sequenceNumber = `49${(++store.counter).toString().padStart(54, "0")}`
    copy.set(record.data, offset)
    const data = copy.subarray(offset, offset += record.data.length)
    store.shards[lo]!.push({ sequenceNumber, data, partitionKey: record.partitionKey, at })
    results[i] = { shardId: lo, sequenceNumber }
  }
  return results
}

const suite: Suite = {
  name: "kinesisTest",
  description: "`KinesisTest` (limits off, 4 shards) through the `Kinesis` port — PutRecords of 500 records, " +
    "then every record read back with GetRecords (Limit 10,000) — against a bare loop doing the same " +
    `irreducible work on arrays (MD5 routing, a copy of the data into one buffer per call, a sequence number, a push; slices to read). ${BATCHES} ` +
    `batches per round, ${ROUNDS} alternating rounds, medians.`,
  run: async () => {
    const rows: Array<Row> = []
    const engine = Effect.runSync(KinesisTest.make({ limits: false, callLogSize: 1000 }))
    const port = engine.kinesis
    let stream = StreamAddress.unsafeMake("bench-0")
    let streamCounter = 0
    const freshStream = () =>
      Effect.runSync(Effect.gen(function*() {
        yield* Effect.ignore(port.deleteStream({ stream }))
        stream = StreamAddress.unsafeMake(`bench-${++streamCounter}`)
        yield* port.createStream({ streamName: stream.name, shardCount: SHARDS })
      }))
    let store: BaselineStore = { starts, shards: [], counter: 0 }
    const freshStore = () => {
      store = { starts, shards: Array.from({ length: SHARDS }, () => []), counter: 0 }
    }

    for (const size of [100, 1024]) {
      const label = size === 1024 ? "1 KiB" : `${size} B`
      const batches = Array.from({ length: BATCHES }, (_, b) =>
        Array.from({ length: RECORDS }, (_, i) => ({
          data: new Uint8Array(size).fill((b + i) % 251),
          partitionKey: `partition-${b}-${i}`
        })))

      const putEngine = () =>
        Effect.runSync(Effect.gen(function*() {
          for (const records of batches) yield* port.putRecords({ stream, records })
        }))
      const putBaseline = () => {
        for (const records of batches) baselinePut(store, records)
      }
      const put = await compare({
        rounds: ROUNDS,
        warmup: WARMUP,
        before: () => {
          freshStream()
          freshStore()
        },
        ours: putEngine,
        baseline: putBaseline
      })

      // reads: a stream and a store holding one round of records, read whole by each side
      freshStream()
      freshStore()
      putEngine()
      putBaseline()
      const shardIds = Array.from({ length: SHARDS }, (_, i) => `shardId-${String(i).padStart(12, "0")}`)
      let read = 0
      const get = await compare({
        rounds: ROUNDS,
        warmup: WARMUP,
        ours: () =>
          Effect.runSync(Effect.gen(function*() {
            read = 0
            for (const shardId of shardIds) {
              let iterator: string | undefined = yield* port.getShardIterator({
                stream,
                shardId,
                position: { type: "TRIM_HORIZON" }
              })
              while (iterator !== undefined) {
                const out: Kinesis.GetRecordsResponse = yield* port.getRecords({
                  shardIterator: iterator,
                  limit: 10_000
                })
                read += out.records.length
                iterator = out.records.length === 0 ? undefined : out.nextShardIterator
              }
            }
          })),
        baseline: () => {
          let n = 0
          for (const shard of store.shards) {
            for (let i = 0; i < shard.length; i += 10_000) n += shard.slice(i, i + 10_000).length
          }
          return n
        }
      })
      if (read !== BATCHES * RECORDS) throw new Error(`read ${read} records, expected ${BATCHES * RECORDS}`)

      const rate = (ms: number) => (BATCHES * RECORDS) / (ms / 1000)
      const perRecord = (ms: number) => (ms * 1000) / (BATCHES * RECORDS)
      rows.push(
        {
          case: `putRecords, 500 × ${label}`,
          unit: "records/s",
          ours: rate(put.ours),
          baseline: { name: "bare loop", value: rate(put.baseline) },
          ratio: put.ratio,
          ratioMeaning: "time, engine ÷ bare loop"
        },
        {
          case: `putRecords, 500 × ${label}, per record`,
          unit: "µs",
          ours: perRecord(put.ours),
          baseline: { name: "bare loop", value: perRecord(put.baseline) },
          goal: "≤ 2 µs",
          pass: perRecord(put.ours) <= 2
        },
        {
          case: `getRecords of ${BATCHES * RECORDS} × ${label} (Limit 10,000)`,
          unit: "records/s",
          ours: rate(get.ours),
          baseline: { name: "array slices", value: rate(get.baseline) },
          ratio: get.ratio,
          ratioMeaning: "time, engine ÷ slices"
        },
        {
          case: `getRecords of ${label}, per record`,
          unit: "µs",
          ours: perRecord(get.ours),
          baseline: { name: "array slices", value: perRecord(get.baseline) },
          goal: "≤ 0.5 µs",
          pass: perRecord(get.ours) <= 0.5
        }
      )
    }
    return {
      rows,
      notes: "The engine's PutRecords does what the bare loop does plus request validation (sizes, keys), the " +
        "per-record result objects, retention bookkeeping and the call log, in one synchronous step per call " +
        "(one Effect per batch, none per record). Its GetRecords returns slices of the stored records, so reading " +
        "costs little more than the slices themselves plus an iterator per call (a large ratio of tiny times). Both " +
        "put sides keep every record (20,000 per round), so garbage collection dominates them and their figures " +
        "move by ±50 % between runs; the ratio stays near 1. The goals keep the engine well under the per-record " +
        "cost of the producer and consumer it serves in tests and benchmarks."
    }
  }
}

export default suite
