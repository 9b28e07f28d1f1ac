/**
 * The CloudWatch exporter against a local HTTP server that receives the AWS SDK's real PutMetricData
 * requests (AWS JSON 1.0, gzip past 10 KiB; see utils/cloudWatchServer.ts): what each kind of metric
 * becomes, counters as deltas, statistic sets of a period, splitting over CloudWatch's per-call limits,
 * failures (kept for the next period or dropped, logged, never failing), the periodic send and the last
 * one on shutdown, `layerConfig` (the environment or one `Config` per option); and the shape of the EMF documents.
 */
import { CloudWatchMetrics } from "@effect-kinesis/metrics"
import { assert, describe, it } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Effect,
  Exit,
  Layer,
  Logger,
  Metric,
  MetricBoundaries,
  type MetricKey,
  Schedule,
  Scope
} from "effect"
import { type CloudWatchServer, cloudWatchServer, type Datum, datums, dims } from "./utils/cloudWatchServer.js"

let sequence = 0
/** A metric name prefix no other test uses (the registry is global to the process). */
const fresh = (label: string): string => `cw_${label}_${process.pid}_${sequence++}_`

const credentials = { accessKeyId: "local", secretAccessKey: "local" }

const options = (server: CloudWatchServer, prefix: string): CloudWatchMetrics.CloudWatchMetricsOptions => ({
  namespace: "EffectKinesisTest",
  endpoint: server.endpoint,
  region: "us-east-1",
  credentials,
  maxAttempts: 1,
  interval: "1 hour",
  filter: (key: MetricKey.MetricKey.Untyped) => key.name.startsWith(prefix)
})

const named = (all: ReadonlyArray<Datum>, name: string): Array<Datum> => all.filter((d) => d.MetricName === name)

/** Collects the log lines (level and message) of the effect. */
const withLogs = <A, E, R>(f: (logs: Array<string>) => Effect.Effect<A, E, R>) => {
  const logs: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return f(logs).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

describe("CloudWatchMetrics", () => {
  it.scopedLive("every kind of metric as PutMetricData over AWS JSON 1.0: names, dimensions, values, units", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("kinds")
      const exporter = yield* CloudWatchMetrics.make({ ...options(server, p), dimensions: { Service: "orders" } })

      yield* Metric.incrementBy(Metric.tagged(Metric.counter(`${p}records_total`), "stream", "s1"), 5)
      yield* Metric.set(Metric.gauge(`${p}lag_millis`), 42)
      const latency = Metric.histogram(`${p}latency_seconds`, MetricBoundaries.fromIterable([0.1, 0.5, 1]))
      yield* Effect.forEach([0.05, 0.3, 2], (v) => Metric.update(latency, v))
      const sizes = Metric.summary({
        name: `${p}size_bytes`,
        maxAge: "1 minute",
        maxSize: 10,
        error: 0,
        quantiles: [0.5]
      })
      yield* Effect.forEach([10, 20, 30], (v) => Metric.update(sizes, v))
      const outcomes = Metric.frequency(`${p}outcome`)
      yield* Effect.forEach(["ok", "ok", "fail"], (w) => Metric.update(outcomes, w))
      const before = Date.now() / 1000
      yield* exporter.flush

      assert.strictEqual(server.accepted.length, 1)
      const [request] = server.accepted
      assert.strictEqual(request.target, "GraniteServiceVersion20100801.PutMetricData")
      assert.strictEqual(request.contentType, "application/x-amz-json-1.0")
      assert.strictEqual(request.namespace, "EffectKinesisTest")
      const all = datums(server, p)
      assert.strictEqual(all.length, 6)
      for (const d of all) {
        assert.isTrue(d.Timestamp !== undefined && Math.abs(d.Timestamp - before) < 30, `timestamp ${d.Timestamp}`)
        assert.strictEqual(d.Dimensions?.[0]?.Name, "Service")
      }

      const [records] = named(all, `${p}records_total`)
      assert.deepStrictEqual(records.Dimensions, [{ Name: "Service", Value: "orders" }, {
        Name: "stream",
        Value: "s1"
      }])
      assert.strictEqual(records.Value, 5)
      assert.strictEqual(records.Unit, "Count")

      const [lag] = named(all, `${p}lag_millis`)
      assert.strictEqual(lag.Value, 42)
      assert.strictEqual(lag.Unit, "Milliseconds")

      const [hist] = named(all, `${p}latency_seconds`)
      assert.strictEqual(hist.Unit, "Seconds")
      assert.isUndefined(hist.Value)
      assert.deepStrictEqual(hist.StatisticValues, { SampleCount: 3, Sum: 2.35, Minimum: 0.05, Maximum: 2 })

      const [summary] = named(all, `${p}size_bytes`)
      assert.strictEqual(summary.Unit, "Bytes")
      assert.deepStrictEqual(summary.StatisticValues, { SampleCount: 3, Sum: 60, Minimum: 10, Maximum: 30 })

      const freq = named(all, `${p}outcome`)
      assert.deepStrictEqual(
        freq.map((d) => [dims(d).key, d.Value, d.Unit]).sort(),
        [["fail", 1, "Count"], ["ok", 2, "Count"]]
      )
    }))

  it.scopedLive("counters are sent as deltas; histograms as statistic sets of the period's observations", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("deltas")
      const exporter = yield* CloudWatchMetrics.make(options(server, p))
      const counter = Metric.counter(`${p}puts_total`, { incremental: true })
      const wait = Metric.histogram(`${p}wait`, MetricBoundaries.fromIterable([1, 2, 5, 10]))

      yield* Metric.incrementBy(counter, 5)
      yield* Effect.forEach([0.5, 9], (v) => Metric.update(wait, v))
      yield* exporter.flush
      yield* Metric.incrementBy(counter, 3)
      yield* Effect.forEach([3, 4], (v) => Metric.update(wait, v))
      yield* exporter.flush
      yield* exporter.flush // nothing happened: a zero for the counter, no statistic set
      yield* Metric.update(wait, 20)
      yield* exporter.flush

      const all = datums(server, p)
      assert.deepStrictEqual(named(all, `${p}puts_total`).map((d) => d.Value), [5, 3, 0, 0])
      assert.deepStrictEqual(named(all, `${p}wait`).map((d) => d.StatisticValues), [
        // the first period: Effect's all-time extremes are the period's
        { SampleCount: 2, Sum: 9.5, Minimum: 0.5, Maximum: 9 },
        // no new extreme: bounded by the one bucket that got both values, (2, 5]
        { SampleCount: 2, Sum: 7, Minimum: 2, Maximum: 5 },
        // a new maximum is exact; one observation is its own minimum
        { SampleCount: 1, Sum: 20, Minimum: 20, Maximum: 20 }
      ])
    }))

  it.scopedLive("a period is split into calls of at most 1,000 datums", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("split")
      const exporter = yield* CloudWatchMetrics.make(options(server, p))
      const gauge = Metric.gauge(`${p}depth`)
      yield* Effect.forEach(Array.from({ length: 2500 }, (_, i) => i), (i) =>
        Metric.set(Metric.tagged(gauge, "i", String(i)), i))
      yield* exporter.flush
      assert.deepStrictEqual(
        server.accepted.map((r) =>
          r.metricData.length
        ),
        [1000, 1000, 500]
      )
      const values = datums(server, p).map((d) => d.Value).sort((a, b) => a! - b!)
      assert.deepStrictEqual(values, Array.from({ length: 2500 }, (_, i) => i))
    }))

  it.scopedLive("a period is split into calls of at most 1 MB; bodies past 10 KiB arrive gzip-compressed", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("bytes")
      const exporter = yield* CloudWatchMetrics.make(options(server, p))
      const gauge = Metric.gauge(`${p}wide`)
      // 100 series of 30 dimensions of ~1,000 characters: ~3 MB of JSON
      yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => {
        let tagged = Metric.tagged(gauge, "i", String(i))
        for (let t = 0; t < 29; t++) tagged = Metric.tagged(tagged, `t${t}`, `${t}`.padEnd(1000, "x"))
        return Metric.set(tagged, i)
      })
      yield* exporter.flush
      assert.isAtLeast(server.accepted.length, 4)
      for (const request of server.accepted) {
        assert.isAtMost(request.jsonBytes, 1_000_000)
        assert.strictEqual(request.encoding, "gzip")
        assert.isBelow(request.wireBytes, request.jsonBytes)
      }
      const all = datums(server, p)
      assert.strictEqual(all.length, 100)
      assert.isTrue(all.every((d) => d.Dimensions?.length === 30))
    }))

  it.scopedLive("at most 30 dimensions: the static ones first, then the tags", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("dims")
      const exporter = yield* CloudWatchMetrics.make({ ...options(server, p), dimensions: { Service: "orders" } })
      let tagged = Metric.gauge(`${p}g`)
      for (let t = 0; t < 35; t++) tagged = Metric.tagged(tagged, `tag${String(t).padStart(2, "0")}`, `v${t}`)
      yield* Metric.set(tagged.pipe(Metric.tagged("empty", "")), 1)
      yield* withLogs((logs) =>
        Effect.gen(function*() {
          yield* exporter.flush
          yield* exporter.flush
          assert.deepStrictEqual(logs.filter((l) => l.includes("30 per metric")).length, 1)
        })
      )
      const [first] = datums(server, p)
      assert.strictEqual(first.Dimensions?.length, 30)
      assert.deepStrictEqual(first.Dimensions?.[0], { Name: "Service", Value: "orders" })
      assert.deepStrictEqual(first.Dimensions?.[29], { Name: "tag28", Value: "v28" })
    }))

  it.scopedLive("failures are logged, never raised: throttling and server faults resend with the next period, refusals drop", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const server = yield* cloudWatchServer
        const p = fresh("failures")
        const exporter = yield* CloudWatchMetrics.make(options(server, p))
        const counter = Metric.counter(`${p}sent_total`)
        const sizes = Metric.histogram(`${p}size`, MetricBoundaries.fromIterable([10]))

        server.failNext("throttling")
        yield* Metric.incrementBy(counter, 5)
        yield* Metric.update(sizes, 4)
        yield* exporter.flush
        server.failNext("server")
        yield* Metric.incrementBy(counter, 2)
        yield* exporter.flush
        yield* Metric.incrementBy(counter, 1)
        yield* Metric.update(sizes, 6)
        yield* exporter.flush // accepted: everything since the start
        server.failNext("invalid")
        yield* Metric.incrementBy(counter, 100)
        yield* exporter.flush // refused: dropped
        yield* Metric.incrementBy(counter, 4)
        yield* exporter.flush

        assert.strictEqual(server.refused.length, 3)
        assert.deepStrictEqual(named(datums(server, p), `${p}sent_total`).map((d) => d.Value), [8, 4])
        assert.deepStrictEqual(named(datums(server, p), `${p}size`).map((d) => d.StatisticValues), [
          { SampleCount: 2, Sum: 10, Minimum: 4, Maximum: 6 }
        ])
        const failures = logs.filter((l) => l.includes("PutMetricData"))
        assert.strictEqual(failures.length, 3)
        assert.match(failures[0], /^WARN .*sent again with the next period/)
        assert.match(failures[1], /^WARN .*sent again with the next period/)
        assert.match(failures[2], /^ERROR .*dropped/)
      })
    ))

  it.scopedLive("an unreachable endpoint: the flush completes and logs", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const p = fresh("down")
        const exporter = yield* CloudWatchMetrics.make({
          namespace: "EffectKinesisTest",
          endpoint: "http://127.0.0.1:9",
          region: "us-east-1",
          credentials,
          maxAttempts: 1,
          interval: "1 hour",
          filter: (key) => key.name.startsWith(p)
        })
        yield* Metric.increment(Metric.counter(`${p}c`))
        yield* exporter.flush
        assert.isTrue(logs.some((l) => /^WARN .*sent again with the next period/.test(l)))
      })
    ))

  it.scopedLive("the layer sends every interval, and a last time when its scope closes", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("layer")
      const counter = Metric.counter(`${p}ticks_total`)
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(CloudWatchMetrics.layer({ ...options(server, p), interval: "100 millis" }), scope)
      yield* Metric.incrementBy(counter, 2)
      yield* Effect.sync(() => named(datums(server, p), `${p}ticks_total`).length).pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (n) => n >= 2 }),
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "no periodic send" })
      )
      yield* Metric.incrementBy(counter, 7)
      yield* Scope.close(scope, Exit.void)
      const values = named(datums(server, p), `${p}ticks_total`).map((d) => d.Value ?? 0)
      assert.strictEqual(values.reduce((a, b) => a + b, 0), 9)
      assert.strictEqual(values[values.length - 1], 7)
      const after = server.accepted.length
      yield* Effect.sleep("300 millis")
      assert.strictEqual(server.accepted.length, after)
    }))

  it.scopedLive("layerConfig(config): namespace, dimensions, endpoint and credentials from the environment", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("config")
      const provider = ConfigProvider.fromMap(
        new Map([
          ["CLOUDWATCH_NAMESPACE", "FromConfig"],
          ["CLOUDWATCH_DIMENSIONS", "Service=orders, Env=test"],
          ["CLOUDWATCH_INTERVAL", "1 hour"],
          ["CLOUDWATCH_ENDPOINT", server.endpoint],
          ["CLOUDWATCH_MAX_ATTEMPTS", "1"],
          ["AWS_REGION", "us-east-1"],
          ["AWS_ACCESS_KEY_ID", "local"],
          ["AWS_SECRET_ACCESS_KEY", "local"]
        ])
      )
      // options that are not in the environment: map the config
      const filtered = CloudWatchMetrics.config.pipe(
        Config.map((o): CloudWatchMetrics.CloudWatchMetricsConfig => ({ ...o, filter: (k) => k.name.startsWith(p) }))
      )
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(CloudWatchMetrics.layerConfig(filtered), scope).pipe(
        Effect.withConfigProvider(provider)
      )
      yield* Metric.increment(Metric.counter(`${p}c`))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(server.accepted.map((r) => r.namespace), ["FromConfig"])
      const [datum] = datums(server, p)
      assert.deepStrictEqual(dims(datum), { Service: "orders", Env: "test" })

      const bad = yield* Layer.buildWithScope(
        CloudWatchMetrics.layerConfig(CloudWatchMetrics.config),
        yield* Scope.make()
      ).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["CLOUDWATCH_NAMESPACE", "X"], ["CLOUDWATCH_DIMENSIONS", "oops"]]))
        ),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(bad))
    }))

  it.scopedLive("layerConfig with one Config per option, dimensions one Config each; a missing one is a ConfigError", () =>
    Effect.gen(function*() {
      const server = yield* cloudWatchServer
      const p = fresh("fields")
      const layer = CloudWatchMetrics.layerConfig({
        namespace: Config.string("METRICS_NAMESPACE"),
        dimensions: { Service: Config.string("SERVICE"), Env: Config.succeed("test") },
        endpoint: Config.succeed(server.endpoint),
        region: Config.succeed("us-east-1"),
        credentials: Config.succeed(credentials),
        maxAttempts: Config.succeed(1),
        interval: Config.succeed("1 hour"),
        filter: Config.succeed((key: MetricKey.MetricKey.Untyped) => key.name.startsWith(p))
      })
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["METRICS_NAMESPACE", "PerField"], ["SERVICE", "billing"]]))
        )
      )
      yield* Metric.increment(Metric.counter(`${p}c`))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(server.accepted.map((r) => r.namespace), ["PerField"])
      assert.deepStrictEqual(dims(datums(server, p)[0]), { Service: "billing", Env: "test" })

      const missing = yield* Layer.buildWithScope(layer, yield* Scope.make()).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SERVICE", "billing"]]))),
        Effect.flip
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "METRICS_NAMESPACE")
    }))

  it.scopedLive("EMF: one JSON line per dimension set, at most 100 metrics each, statistic sets as four metrics", () =>
    Effect.gen(function*() {
      const p = fresh("emf")
      const written: Array<string> = []
      const exporter = yield* CloudWatchMetrics.makeEmf({
        namespace: "Lambda",
        dimensions: { Function: "ingest" },
        storageResolution: 60,
        interval: "1 hour",
        filter: (key) => key.name.startsWith(p),
        write: (line) => written.push(line)
      })
      const gauge = Metric.gauge(`${p}g`)
      yield* Effect.forEach(
        Array.from({ length: 150 }, (_, i) => i),
        (i) => Metric.set(Metric.tagged(Metric.gauge(`${p}g${i}`), "stream", "orders"), i)
      )
      yield* Metric.set(gauge, 1)
      yield* Metric.incrementBy(Metric.tagged(Metric.counter(`${p}records_total`), "stream", "orders"), 3)
      const latency = Metric.histogram(`${p}latency_seconds`, MetricBoundaries.fromIterable([1]))
      yield* Effect.forEach([0.25, 0.75], (v) => Metric.update(latency, v))
      const before = Date.now()
      yield* exporter.flush

      assert.isTrue(written.every((line) => !line.includes("\n")))
      const documents = written.map((line) => JSON.parse(line) as Record<string, unknown>)
      type Directive = {
        Namespace: string
        Dimensions: Array<Array<string>>
        Metrics: Array<{ Name: string; Unit?: string; StorageResolution?: number }>
      }
      const directive = (d: Record<string, unknown>) =>
        (d._aws as { Timestamp: number; CloudWatchMetrics: Array<Directive> }).CloudWatchMetrics[0]
      for (const d of documents) {
        const aws = d._aws as { Timestamp: number; CloudWatchMetrics: Array<Directive> }
        assert.isTrue(Number.isInteger(aws.Timestamp) && Math.abs(aws.Timestamp - before) < 30_000)
        assert.strictEqual(aws.CloudWatchMetrics.length, 1)
        const dir = directive(d)
        assert.strictEqual(dir.Namespace, "Lambda")
        assert.isAtMost(dir.Metrics.length, 100)
        assert.isAtMost(dir.Dimensions[0].length, 30)
        // every referenced member is on the root node: dimensions as strings, metrics as numbers
        for (const name of dir.Dimensions[0]) assert.isString(d[name])
        for (const m of dir.Metrics) {
          assert.isNumber(d[m.Name])
          assert.strictEqual(m.StorageResolution, 60)
        }
      }
      const withStream = documents.filter((d) => d.stream === "orders")
      const withoutStream = documents.filter((d) => d.stream === undefined)
      assert.deepStrictEqual(withStream.map((d) => directive(d).Dimensions), [[["Function", "stream"]], [[
        "Function",
        "stream"
      ]]])
      assert.deepStrictEqual(withStream.map((d) => directive(d).Metrics.length).sort(), [100, 51])
      const records = withStream.find((d) => `${p}records_total` in d)!
      assert.strictEqual(records[`${p}records_total`], 3)
      assert.deepStrictEqual(directive(records).Metrics.find((m) => m.Name === `${p}records_total`)?.Unit, "Count")

      assert.strictEqual(withoutStream.length, 1)
      const [plain] = withoutStream
      assert.deepStrictEqual(directive(plain).Dimensions, [["Function"]])
      assert.strictEqual(plain.Function, "ingest")
      assert.strictEqual(plain[`${p}g`], 1)
      assert.strictEqual(plain[`${p}latency_seconds_count`], 2)
      assert.strictEqual(plain[`${p}latency_seconds_sum`], 1)
      assert.strictEqual(plain[`${p}latency_seconds_min`], 0.25)
      assert.strictEqual(plain[`${p}latency_seconds_max`], 0.75)
      assert.deepStrictEqual(
        directive(plain).Metrics.filter((m) => m.Name.startsWith(`${p}latency_seconds`)).map((m) => m.Unit),
        ["Count", "Seconds", "Seconds", "Seconds"]
      )

      // the next period: counters as deltas, histograms without observations left out
      written.length = 0
      yield* Metric.incrementBy(Metric.tagged(Metric.counter(`${p}records_total`), "stream", "orders"), 2)
      yield* exporter.flush
      const next = written.map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.strictEqual(next.find((d) => d.stream === "orders" && `${p}records_total` in d)?.[`${p}records_total`], 2)
      assert.isTrue(next.every((d) => !(`${p}latency_seconds_count` in d)))
    }))

  it.scopedLive("EMF layer writes a last period when its scope closes", () =>
    Effect.gen(function*() {
      const p = fresh("emflayer")
      const written: Array<string> = []
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        CloudWatchMetrics.emf({
          namespace: "Lambda",
          interval: "1 hour",
          filter: (key) => key.name.startsWith(p),
          write: (line) => written.push(line)
        }),
        scope
      )
      yield* Metric.increment(Metric.counter(`${p}invocations_total`))
      assert.strictEqual(written.length, 0)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(written.length, 1)
      const document = JSON.parse(written[0]) as Record<string, unknown>
      assert.strictEqual(document[`${p}invocations_total`], 1)
    }))
})
