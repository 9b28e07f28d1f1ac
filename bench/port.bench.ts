/**
 * The port's overhead over the bare AWS SDK: `Kinesis.putRecords` / `getRecords` through the Effect
 * port vs the same `client.send(new PutRecordsCommand(...))` / `GetRecordsCommand` loop, on the same
 * client, against an in-process kinesalite.
 */
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis"
import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { Effect, Exit, Scope } from "effect"
import { compare, type Suite } from "./harness.js"

const BATCHES_PER_ROUND = 10
const RECORDS = 500
const SIZE = 1024
const ROUNDS = 10

const suite: Suite = {
  name: "port",
  description: "`Kinesis.putRecords`/`getRecords` through the Effect port vs a raw `client.send` loop on the same " +
    "`KinesisClient` (HTTP/1.1 keep-alive) against kinesalite in-process; 500 × 1 KiB records per PutRecords, " +
    `${BATCHES_PER_ROUND} batches per round, ${ROUNDS} alternating rounds, medians.`,
  run: async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const local = await Effect.runPromise(Scope.extend(LocalKinesis.kinesalite(), scope))
      const client = await Effect.runPromise(Scope.extend(
        Kinesis.makeClient({ endpoint: local.endpoint, region: local.region, credentials: local.credentials }),
        scope
      ))
      const port = Kinesis.fromClient(client)
      const records = Array.from({ length: RECORDS }, (_, i) => ({
        data: new Uint8Array(SIZE).fill(i % 256),
        partitionKey: `key-${i}`
      }))
      const sdkRecords = records.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey }))

      // a fresh one-shard stream per round keeps kinesalite's memory flat (it deletes the previous one)
      let current: StreamAddress.StreamAddress | undefined
      let counter = 0
      const freshStream = () =>
        Effect.runPromise(Effect.gen(function*() {
          if (current !== undefined) yield* port.deleteStream({ stream: current })
          const name = `bench-port-${process.pid}-${counter++}`
          yield* Kinesis.createStream({ streamName: name, shardCount: 1, waitUntilActive: true }).pipe(
            Effect.provideService(Kinesis.Kinesis, port)
          )
          current = StreamAddress.unsafeMake(name)
        }))

      const put = await compare({
        rounds: ROUNDS,
        warmup: 2,
        before: freshStream,
        ours: () =>
          Effect.runPromise(Effect.gen(function*() {
            for (let i = 0; i < BATCHES_PER_ROUND; i++) yield* port.putRecords({ stream: current!, records })
          })),
        baseline: async () => {
          for (let i = 0; i < BATCHES_PER_ROUND; i++) {
            await client.send(new PutRecordsCommand({ StreamName: current!.name, Records: sdkRecords }))
          }
        }
      })

      // reads: one stream holding BATCHES_PER_ROUND × 500 records, read whole by each side
      await freshStream()
      for (let i = 0; i < BATCHES_PER_ROUND; i++) {
        await client.send(new PutRecordsCommand({ StreamName: current!.name, Records: sdkRecords }))
      }
      const shardId = "shardId-000000000000"
      const get = await compare({
        rounds: ROUNDS,
        warmup: 2,
        ours: () =>
          Effect.runPromise(Effect.gen(function*() {
            let iterator: string | undefined = yield* port.getShardIterator({
              stream: current!,
              shardId,
              position: { type: "TRIM_HORIZON" }
            })
            let n = 0
            while (iterator !== undefined && n < BATCHES_PER_ROUND * RECORDS) {
              const out: Kinesis.GetRecordsResponse = yield* port.getRecords({ shardIterator: iterator, limit: 10_000 })
              n += out.records.length
              iterator = out.nextShardIterator
            }
          })),
        baseline: async () => {
          let iterator = (await client.send(
            new GetShardIteratorCommand({
              StreamName: current!.name,
              ShardId: shardId,
              ShardIteratorType: "TRIM_HORIZON"
            })
          )).ShardIterator
          let n = 0
          while (iterator !== undefined && n < BATCHES_PER_ROUND * RECORDS) {
            const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
            n += out.Records?.length ?? 0
            iterator = out.NextShardIterator
          }
        }
      })

      const perBatch = (ms: number) => ms / BATCHES_PER_ROUND
      const rate = (ms: number) => (BATCHES_PER_ROUND * RECORDS) / (ms / 1000)
      return {
        rows: [
          {
            case: "putRecords, 500 × 1 KiB per call",
            unit: "ms/call",
            ours: perBatch(put.ours),
            baseline: { name: "client.send(PutRecordsCommand)", value: perBatch(put.baseline) },
            ratio: put.ratio,
            ratioMeaning: "time, port ÷ raw",
            goal: "≤ 1.05×",
            pass: put.ratio <= 1.05
          },
          {
            case: "putRecords throughput",
            unit: "records/s",
            ours: rate(put.ours),
            baseline: { name: "raw", value: rate(put.baseline) }
          },
          {
            case: `getRecords, ${BATCHES_PER_ROUND * RECORDS} × 1 KiB records read from TRIM_HORIZON`,
            unit: "ms/read",
            ours: get.ours,
            baseline: { name: "client.send(GetRecordsCommand)", value: get.baseline },
            ratio: get.ratio,
            ratioMeaning: "time, port ÷ raw",
            goal: "≤ 1.05×",
            pass: get.ratio <= 1.05
          }
        ],
        notes: "Both sides share one `KinesisClient`, so the ratio isolates the port: request/response mapping, " +
          "error mapping and the Effect fiber. kinesalite's own CPU dominates both (see DESIGN.md's performance notes)."
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export default suite
