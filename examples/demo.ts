/**
 * `pnpm demo`: the whole library on an embedded local Kinesis, no AWS account, no Docker.
 *
 * 1. starts kinesalite in this process (127.0.0.1) and creates a 4-shard stream;
 * 2. produces 100,000 Schema-typed orders with `Stream.run(Producer.sink(...))` (paced at the AWS
 *    per-shard limits, per customer in order) with a live progress line: records/s, bytes, throttled records, retries;
 * 3. meanwhile a consumer reads them back with Schema decoding and checks per-customer order;
 * 4. splits a shard in the middle of the run: the consumer finishes the parent, then reads the children;
 * 5. prints the shard table (parents, children, state, lag, checkpoint) and a summary; exits 0 only when
 *    every order produced was consumed, in order per customer.
 *
 * Against AWS: `AWS_REGION=eu-west-1 KINESIS_STREAM=my-stream pnpm demo` uses your stream (it must
 * exist; the demo does not split it unless DEMO_SPLIT=1). `KINESIS_ENDPOINT` points it at any endpoint.
 * `DEMO_RECORDS` changes the number of orders. `pnpm demo --metrics-port 9464` (or METRICS_PORT=9464)
 * serves every metric at http://127.0.0.1:9464/metrics while it runs (Prometheus text format).
 */
import {
  Checkpointer,
  Consumer,
  Kinesis,
  KinesisMetrics,
  Processor,
  Producer,
  StreamAddress
} from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { PrometheusMetrics } from "@effect-kinesis/metrics"
import { NodeRuntime } from "@effect/platform-node"
import {
  Config,
  Console,
  Context,
  Deferred,
  Effect,
  Fiber,
  Layer,
  Metric,
  Option,
  Schedule,
  Schema,
  Stream
} from "effect"

const Order = Schema.Struct({
  customer: Schema.String,
  /** 1, 2, 3, … per customer: the consumer checks they arrive in this order */
  seq: Schema.Number,
  total: Schema.Number,
  placedAt: Schema.Date
})
type Order = typeof Order.Type

const CUSTOMERS = 500
// one order per Kinesis record: Kinesis routes each by its own key, so per-customer order survives the
// split exactly (KPL aggregates in flight at a split can land in the sibling child: see the README)
const processor = Processor.schemaJson(Order)

const isTTY = process.stderr.isTTY === true
const progress = (line: string) =>
  Effect.sync(() => {
    if (isTTY) process.stderr.write(`\r\x1b[2K${line}`)
    else process.stderr.write(`${line}\n`)
  })

const program = Effect.gen(function*() {
  const records = yield* Config.integer("DEMO_RECORDS").pipe(Config.withDefault(100_000))
  const existing = yield* Config.option(Config.string("KINESIS_STREAM"))
  const split = Option.isNone(existing) || (yield* Config.boolean("DEMO_SPLIT").pipe(Config.withDefault(false)))
  const name = Option.getOrElse(existing, () => `demo-${Date.now().toString(36)}`)
  const stream = StreamAddress.unsafeMake(name)
  if (Option.isNone(existing)) {
    yield* Kinesis.createStream({ streamName: name, shardCount: 4, waitUntilActive: true })
    yield* Console.log(`created stream ${name} with 4 shards`)
  }
  const label = StreamAddress.format(stream)
  const metric = <T, I, O>(m: Metric.Metric<T, I, O>) => Metric.tagged(m, "stream", label)

  // -- the consumer: reads every order back, checks per-customer order -------------------------------
  const consumer = yield* Consumer.make({
    stream: name,
    processor,
    iteratorType: Option.isNone(existing) ? "TRIM_HORIZON" : "LATEST",
    idleDelay: "250 millis",
    shardRefreshInterval: "2 seconds"
  })
  const lastSeq = new Map<string, number>()
  const seen = new Set<string>()
  let consumed = 0
  let outOfOrder = 0
  let duplicates = 0
  const allConsumed = yield* Deferred.make<void>()
  const reading = yield* consumer.records.pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.suspend(() => {
        for (const { value } of chunk) {
          const key = `${value.customer}/${value.seq}`
          if (seen.has(key)) {
            duplicates++ // at-least-once: a redelivery (after a restart or a lease move)
            continue
          }
          seen.add(key)
          consumed++
          const last = lastSeq.get(value.customer) ?? 0
          if (value.seq < last) outOfOrder++ // an earlier order of this customer after a later one
          else lastSeq.set(value.customer, value.seq)
        }
        return consumed >= records ? Deferred.succeed(allConsumed, undefined) : Effect.void
      })
    ),
    Effect.fork
  )

  // -- the producer pipeline, with a live progress line --------------------------------------------
  const started = Date.now()
  const orders = Stream.range(0, records - 1).pipe(
    Stream.map((i): Order => ({
      customer: `customer-${i % CUSTOMERS}`,
      seq: Math.floor(i / CUSTOMERS) + 1,
      total: Math.round(Math.random() * 10_000) / 100,
      placedAt: new Date()
    }))
  )
  const produced = metric(KinesisMetrics.producerRecords)
  const report = Effect.gen(function*() {
    const sent = (yield* Metric.value(produced)).count
    const bytes = (yield* Metric.value(metric(KinesisMetrics.producerBytes))).count
    const throttled = (yield* Metric.value(metric(KinesisMetrics.producerThrottledRecords))).count
    const retries = (yield* Metric.value(metric(KinesisMetrics.producerRetries))).count
    const seconds = (Date.now() - started) / 1000
    yield* progress(
      `produced ${sent.toLocaleString("en-US")} (${Math.round(sent / seconds).toLocaleString("en-US")}/s, ` +
        `${(bytes / 1024 / 1024).toFixed(1)} MiB, ${throttled} throttled, ${retries} retries)  ` +
        `consumed ${consumed.toLocaleString("en-US")}` +
        (outOfOrder > 0 ? ` OUT OF ORDER ${outOfOrder}` : "")
    )
  })
  const ticker = yield* Effect.fork(Effect.repeat(report, Schedule.spaced("250 millis")))

  // split a shard once half of the orders are out
  const splitter = yield* Effect.fork(Effect.gen(function*() {
    if (!split) return
    yield* Effect.repeat(Metric.value(produced), {
      schedule: Schedule.spaced("100 millis"),
      until: (state) => state.count >= records / 2
    })
    const [first] = yield* Kinesis.listShards({ stream, shardFilter: { type: "AT_LATEST" } })
    if (first === undefined) return
    yield* Kinesis.splitShard({
      stream,
      shardToSplit: first.shardId,
      newStartingHashKey: middle(first.hashKeyRange),
      waitUntilActive: true
    })
    yield* progress(`split ${first.shardId} in two while producing\n`)
  }))

  yield* orders.pipe(
    Stream.run(Producer.sink({ stream: name, processor, partitionKey: (order) => order.customer }))
  )
  const produceSeconds = (Date.now() - started) / 1000
  yield* Fiber.join(splitter)
  yield* Deferred.await(allConsumed).pipe(
    Effect.timeoutFail({
      duration: "120 seconds",
      onTimeout: () => new Error(`only ${consumed} of ${records} orders consumed after 120 s`)
    })
  )
  yield* Fiber.interrupt(ticker)
  yield* report
  yield* progress("\n")
  yield* Fiber.interrupt(reading)

  // -- the shard table and the summary ---------------------------------------------------------------
  const status = yield* consumer.status
  yield* Console.log(shardTable(status))
  yield* Console.log(
    `produced ${records.toLocaleString("en-US")} orders in ${produceSeconds.toFixed(1)} s; consumed ` +
      `${consumed.toLocaleString("en-US")} (${duplicates} redelivered), per-customer order ` +
      (outOfOrder === 0 ? "verified" : `VIOLATED ${outOfOrder} times`)
  )
  if (outOfOrder > 0 || consumed !== records) {
    return yield* Effect.fail(new Error("the demo's checks failed"))
  }
}).pipe(Effect.scoped)

/**
 * The shard table: one row per shard, fixed-width columns (numbers right-aligned), the parent / child
 * relation last, and a total row.
 */
const shardTable = (status: Consumer.ConsumerStatus): string => {
  const count = (n: number) => n.toLocaleString("en-US")
  const header = ["SHARD", "STATE", "READ", "LAG (ms)", "CHECKPOINT", "PARENTS / CHILDREN"]
  const rows = status.shards.map((shard) => [
    shard.shardId,
    shard.state === "retrying" ? `retrying (${shard.failures} failures)` : shard.state,
    count(shard.recordsDelivered),
    shard.millisBehindLatest === undefined ? "-" : count(shard.millisBehindLatest),
    shard.checkpoint === undefined ? "-" : `…${shard.checkpoint.sequenceNumber.slice(-8)}`,
    [
      shard.parents.length > 0 ? `child of ${shard.parents.join(", ")}` : "",
      shard.children.length > 0 ? `parent of ${shard.children.join(", ")}` : ""
    ].filter((s) => s !== "").join("; ") || "-"
  ])
  const total = status.shards.reduce((n, shard) => n + shard.recordsDelivered, 0)
  rows.push(["total", "", count(total), "", "", ""])
  const numeric = new Set([2, 3])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) =>
      i === cells.length - 1 ? cell : numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

const middle = (range: Kinesis.HashKeyRange) =>
  ((BigInt(range.startingHashKey) + BigInt(range.endingHashKey)) / 2n).toString()

// KINESIS_ENDPOINT or AWS_REGION set: use them; otherwise start kinesalite in this process.
const KinesisLive = Layer.unwrapScoped(Effect.gen(function*() {
  const endpoint = yield* Config.option(Config.string("KINESIS_ENDPOINT"))
  const region = yield* Config.option(Config.string("AWS_REGION"))
  if (Option.isSome(endpoint) || Option.isSome(region)) return Kinesis.layerConfig(Kinesis.config)
  const local = yield* LocalKinesis.kinesalite()
  yield* Console.log(`embedded kinesalite listening at ${local.endpoint}`)
  // the server's own options: an InvalidOption here would be a bug of this program
  return Kinesis.layer({ endpoint: local.endpoint, region: local.region, credentials: local.credentials }).pipe(
    Layer.orDie
  )
}))

// --metrics-port N (or METRICS_PORT): a Prometheus endpoint for the run
const MetricsLive = Layer.unwrapEffect(Effect.gen(function*() {
  const flag = process.argv.indexOf("--metrics-port")
  const fromFlag = flag >= 0 ? Number(process.argv[flag + 1]) : undefined
  const port = fromFlag ?? Option.getOrUndefined(yield* Config.option(Config.integer("METRICS_PORT")))
  if (port === undefined || Number.isNaN(port)) return Layer.empty
  return PrometheusMetrics.layer({ port }).pipe(
    Layer.tap((context) => Console.log(`metrics at ${Context.get(context, PrometheusMetrics.PrometheusEndpoint).url}`)),
    Layer.discard
  )
}))

program.pipe(
  Effect.provide(Layer.mergeAll(KinesisLive, Checkpointer.layerMemory(), MetricsLive)),
  NodeRuntime.runMain
)
