/**
 * The `effect-kinesis` CLI end to end: every command runs as a real child process of the bin users
 * install (`node packages/cli/bin/effect-kinesis.js ...`, over the bundle that test/bundle.globalSetup.ts
 * builds from the sources before the run) against the run's local servers — kinesalite,
 * kinesis-local for ARN addressing, redis-server for a consumer group — and the tests look at its stdout,
 * stderr and exit code. Streams are created, split and filled through the Kinesis port.
 */
import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, inject, it } from "@effect/vitest"
import { Effect } from "effect"
import { freshStreamName, kinesaliteLayer, kinesisLocalLayer } from "../../core/test/utils/servers.js"
import { cli, lines, slots, start } from "./utils/process.js"

const kinesalite = () => ["--endpoint", inject("kinesalite").endpoint]
const redis = (group: string) => ["--group", group, "--redis", inject("redis").url]

/** A new stream, ACTIVE. */
const createStream = (prefix: string, shardCount: number) =>
  Effect.gen(function*() {
    const name = freshStreamName(prefix)
    yield* Kinesis.createStream({ streamName: name, shardCount, waitUntilActive: true })
    return name
  })

/** `n` records put through the port (with keys spread over every shard). */
const putRecords = (name: string, n: number) =>
  Kinesis.putRecords({
    stream: StreamAddress.unsafeMake(name),
    records: Array.from({ length: n }, (_, i) => ({
      data: new TextEncoder().encode(`record-${i}`),
      partitionKey: `key-${i}`
    }))
  })

interface StatusShard {
  readonly shardId: string
  readonly lagMillis: number
  readonly measuredFrom: string
  readonly checkpoint?: { readonly sequenceNumber: string } | undefined
  readonly lease?: unknown
}

const TIMEOUT = 120_000

describe.concurrent("effect-kinesis CLI (child processes)", () => {
  it.live("put 10,000 lines from stdin, then tail them back complete", () =>
    Effect.gen(function*() {
      const name = yield* createStream("cli-put", 8) // the producer paces each shard at 1,000 records/s
      const input = Array.from({ length: 10_000 }, (_, i) => `line-${i}`)

      const put = yield* cli(["put", name, ...kinesalite()], { input: input.join("\n") + "\n" })
      assert.strictEqual(put.code, 0, put.stderr)
      assert.strictEqual(put.stdout, `10000 records put to ${name}\n`)
      assert.match(put.stderr, /put: 10,000 records read in/)

      const tail = yield* cli(["tail", name, ...kinesalite(), "--limit", "10000", "--from", "trim-horizon"])
      assert.strictEqual(tail.code, 0, tail.stderr)
      const read = lines(tail.stdout)
      assert.strictEqual(read.length, 10_000)
      assert.deepStrictEqual([...read].sort(), [...input].sort())
    }).pipe(Effect.provide(kinesaliteLayer())), TIMEOUT)

  it.live(
    "put --json with field:NAME keys, tail --format json shows shard, sequence, key and arrival",
    () =>
      Effect.gen(function*() {
        const name = yield* createStream("cli-json", 2)
        const input = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, customer: `c-${i % 3}` }))
        const put = yield* cli(
          ["put", name, ...kinesalite(), "--json", "--partition-key", "field:customer", "--quiet"],
          { input: input.join("\n") }
        )
        assert.strictEqual(put.code, 0, put.stderr)
        assert.strictEqual(put.stderr, "")

        const tail = yield* cli([
          "tail",
          name,
          ...kinesalite(),
          "--processor",
          "json",
          "--format",
          "json",
          "--limit",
          "20"
        ])
        assert.strictEqual(tail.code, 0, tail.stderr)
        const records = lines(tail.stdout).map((line) =>
          JSON.parse(line) as {
            shardId: string
            sequenceNumber: string
            partitionKey: string
            approximateArrivalTimestamp: string
            value: { id: number; customer: string }
          }
        )
        assert.strictEqual(records.length, 20)
        for (const record of records) {
          assert.strictEqual(record.partitionKey, record.value.customer)
          assert.match(record.shardId, /^shardId-\d{12}$/)
          assert.match(record.sequenceNumber, /^\d+$/)
          assert.isFalse(Number.isNaN(Date.parse(record.approximateArrivalTimestamp)))
        }
        assert.deepStrictEqual(
          records.map((r) => r.value.id).sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i)
        )
      }).pipe(Effect.provide(kinesaliteLayer())),
    TIMEOUT
  )

  it.live(
    "put: a line that is not JSON with --json is bad input (exit 1, one typed line)",
    () =>
      Effect.gen(function*() {
        const name = yield* createStream("cli-bad-input", 1)
        const put = yield* cli(["put", name, ...kinesalite(), "--json", "--quiet"], { input: `{"a":1}\nnot json\n` })
        assert.strictEqual(put.code, 1)
        assert.match(put.stderr, /^effect-kinesis: InvalidInput: line 2: not JSON .*\(hint: .*\)\n$/)
      }).pipe(Effect.provide(kinesaliteLayer())),
    TIMEOUT
  )

  it.live("describe after a split shows the lineage", () =>
    Effect.gen(function*() {
      const name = yield* createStream("cli-split", 1)
      yield* Kinesis.splitShard({
        stream: StreamAddress.unsafeMake(name),
        shardToSplit: "shardId-000000000000",
        newStartingHashKey: (2n ** 127n).toString(),
        waitUntilActive: true
      })
      const describe = yield* cli(["describe", name, ...kinesalite()])
      assert.strictEqual(describe.code, 0, describe.stderr)
      const out = describe.stdout
      assert.match(out, /^Stream\s+cli-split-/m)
      assert.match(out, /^Open shards\s+2 \(1 closed shards still listed\)$/m)
      assert.match(out, /^shardId-000000000000\s+closed\s+-\s+-\s+100\.0%/m)
      assert.match(out, /^shardId-000000000001\s+open\s+shardId-000000000000\s+-\s+50\.0%/m)
      assert.match(out, /^shardId-000000000002\s+open\s+shardId-000000000000\s+-\s+50\.0%/m)
      assert.include(
        out,
        [
          "Lineage (parent -> children):",
          "  shardId-000000000000  closed",
          "  ├─ shardId-000000000001  open",
          "  └─ shardId-000000000002  open"
        ].join("\n")
      )
    }).pipe(Effect.provide(kinesaliteLayer())), TIMEOUT)

  it.live(
    "status with a group: lag > 0 before consuming, 0 after tail --group checkpointed",
    () =>
      Effect.gen(function*() {
        const name = yield* createStream("cli-status", 2)
        yield* putRecords(name, 200)
        const group = `g-${name}`
        const status = (label: string) =>
          Effect.map(cli(["status", name, ...kinesalite(), ...redis(group), "--json"]), (result) => {
            assert.strictEqual(result.code, 0, `${label}: ${result.stderr}`)
            return JSON.parse(result.stdout) as { group: { name: string }; shards: ReadonlyArray<StatusShard> }
          })

        const before = yield* status("before")
        assert.strictEqual(before.group.name, group)
        assert.strictEqual(before.shards.length, 2)
        for (const shard of before.shards) {
          assert.isAbove(shard.lagMillis, 0, shard.shardId)
          assert.strictEqual(shard.measuredFrom, "TRIM_HORIZON")
          assert.isUndefined(shard.checkpoint)
        }

        const tail = yield* cli(["tail", name, ...kinesalite(), ...redis(group), "--limit", "200"])
        assert.strictEqual(tail.code, 0, tail.stderr)
        assert.strictEqual(lines(tail.stdout).length, 200)

        const after = yield* status("after")
        for (const shard of after.shards) {
          assert.strictEqual(shard.lagMillis, 0, shard.shardId)
          assert.strictEqual(shard.measuredFrom, "checkpoint")
          assert.isDefined(shard.checkpoint)
          assert.isUndefined(shard.lease) // released when tail ended
        }
      }).pipe(Effect.provide(kinesaliteLayer())),
    TIMEOUT
  )

  it.live("tail stops on SIGINT with exit code 130, after checkpointing what it printed", () =>
    Effect.gen(function*() {
      const name = yield* createStream("cli-sigint", 2)
      yield* putRecords(name, 50)
      const group = `g-${name}`
      const result = yield* slots.withPermits(1)(Effect.promise(async () => {
        const running = start(["tail", name, ...kinesalite(), ...redis(group)])
        // wait until every record is printed, then Ctrl-C
        while (lines(running.stdout()).length < 50 && running.child.exitCode === null) {
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        running.child.kill("SIGINT")
        return running.result
      }))
      assert.strictEqual(result.code, 130, result.stderr)
      assert.strictEqual(lines(result.stdout).length, 50)

      // the text form: the shard tree, with no lag left, the checkpoints, and the leases released
      const status = yield* cli(["status", name, ...kinesalite(), ...redis(group)])
      assert.strictEqual(status.code, 0, status.stderr)
      assert.match(status.stdout, new RegExp(`^Group ${group} \\(redis redis://`, "m"))
      assert.match(status.stdout, /^SHARD\s+STATE\s+LAG\s+CHECKPOINT\s+LEASE$/m)
      assert.match(status.stdout, /^shardId-000000000000\s+open\s+0 ms\s+\d+\s+-$/m)
      assert.match(status.stdout, /^shardId-000000000001\s+open\s+0 ms\s+\d+\s+-$/m)
    }).pipe(Effect.provide(kinesaliteLayer())), TIMEOUT)

  it.live("streams lists a created stream with status, mode and open shards", () =>
    Effect.gen(function*() {
      const name = yield* createStream("cli-streams", 3)
      const streams = yield* cli(["streams", ...kinesalite()])
      assert.strictEqual(streams.code, 0, streams.stderr)
      assert.match(streams.stdout, /^NAME\s+STATUS\s+MODE\s+OPEN SHARDS$/m)
      assert.match(streams.stdout, new RegExp(`^${name}\\s+ACTIVE\\s+PROVISIONED\\s+3$`, "m"))
    }).pipe(Effect.provide(kinesaliteLayer())), TIMEOUT)

  it.live("bad command lines are usage errors: exit 2, nothing on stdout", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
        [["streams", "--bogus"], /unknown option '--bogus'/],
        [["describe"], /stream/i],
        [["tail", "s", "--format", "xml"], /--format: 'xml' is not one of raw, json, pretty/],
        [["tail", "s", "--from", "yesterday", ...kinesalite()], /--from must be trim-horizon, latest or timestamp/],
        [["status", "s", "--group", "g", ...kinesalite()], /--group needs a checkpoint store/],
        [["describe", "not a stream!", ...kinesalite()], /^effect-kinesis: InvalidStreamAddress: /m],
        [[], /missing command/]
      ]
      const results = yield* Effect.forEach(cases, ([args]) => cli(args), { concurrency: "unbounded" })
      results.forEach((result, i) => {
        const [args, stderr] = cases[i]!
        assert.strictEqual(result.code, 2, `${args.join(" ")}: ${result.stderr}`)
        assert.strictEqual(result.stdout, "", args.join(" "))
        assert.match(result.stderr, stderr, args.join(" "))
      })
    }), TIMEOUT)

  it.live("an unknown stream is one typed error line with a hint, exit 1", () =>
    Effect.gen(function*() {
      const result = yield* cli(["describe", freshStreamName("cli-missing"), ...kinesalite()])
      assert.strictEqual(result.code, 1)
      assert.strictEqual(result.stdout, "")
      assert.match(
        result.stderr,
        /^effect-kinesis: ResourceNotFound: .*not found.* \(hint: check the stream name and --region \(and --endpoint\)\)\n$/
      )
    }), TIMEOUT)

  it.live("a stream by ARN on kinesis-local: put, tail and describe", () =>
    Effect.gen(function*() {
      const name = yield* createStream("cli-arn", 2)
      const arn = (yield* Kinesis.describeStreamSummary(StreamAddress.unsafeMake(name))).streamARN
      const endpoint = ["--endpoint", inject("kinesisLocal").endpoint]
      const input = Array.from({ length: 20 }, (_, i) => `arn-line-${i}`)

      const put = yield* cli(["put", arn, ...endpoint, "--quiet"], { input: input.join("\n") })
      assert.strictEqual(put.code, 0, put.stderr)
      assert.strictEqual(put.stdout, `20 records put to ${arn}\n`)

      const [tail, describe] = yield* Effect.all([
        cli(["tail", arn, ...endpoint, "--limit", "20"]),
        cli(["describe", arn, ...endpoint, "--json"])
      ], { concurrency: 2 })
      assert.strictEqual(tail.code, 0, tail.stderr)
      assert.deepStrictEqual(lines(tail.stdout).sort(), [...input].sort())
      assert.strictEqual(describe.code, 0, describe.stderr)
      const described = JSON.parse(describe.stdout) as { streamARN: string; shards: ReadonlyArray<unknown> }
      assert.strictEqual(described.streamARN, arn)
      assert.strictEqual(described.shards.length, 2)
    }).pipe(Effect.provide(kinesisLocalLayer())), TIMEOUT)

  it.live("bench measures put and read throughput on an embedded kinesalite", () =>
    Effect.gen(function*() {
      const result = yield* cli(["bench", "--local", "--records", "1000", "--json"], {
        nodeOptions: ["--import", "tsx"]
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const report = JSON.parse(result.stdout) as {
        records: number
        put: { records: number; recordsPerSecond: number }
        read: { records: number; recordsPerSecond: number }
      }
      assert.strictEqual(report.put.records, 1000)
      assert.strictEqual(report.read.records, 1000)
      assert.isAbove(report.put.recordsPerSecond, 0)
      assert.isAbove(report.read.recordsPerSecond, 0)
    }), TIMEOUT)
})
