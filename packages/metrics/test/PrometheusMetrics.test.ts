/**
 * The Prometheus endpoint over real HTTP (port 0, fetch), its body parsed with parse-prometheus-text-format;
 * the pure renderer on hand-made snapshots; the core's KinesisMetrics after a real producer and consumer
 * run on KinesisTest.
 *
 * parse-prometheus-text-format 1.1.1 flattens the series of a histogram or summary family into one
 * (it keeps the bucket / quantile lines and the unlabelled `_sum` / `_count`, and drops the labelled
 * ones), so labelled histograms and summaries are checked on the text itself.
 */
import { Checkpointer, Consumer, KinesisTest, Producer } from "@effect-kinesis/core"
import { PrometheusMetrics } from "@effect-kinesis/metrics"
import { assert, describe, it } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Layer,
  Metric,
  MetricBoundaries,
  MetricKey,
  MetricPair,
  MetricState,
  Option,
  Stream
} from "effect"
import parse, { type ParsedFamily } from "parse-prometheus-text-format"

let sequence = 0
/** A metric name prefix no other test uses (the registry is global to the process). */
const fresh = (label: string): string => `prom_${label}_${process.pid}_${sequence++}_`

const scrape = (endpoint: PrometheusMetrics.Endpoint) =>
  Effect.promise(async () => {
    const res = await fetch(endpoint.url)
    return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() }
  })

const family = (families: ReadonlyArray<ParsedFamily>, name: string): ParsedFamily => {
  const found = families.find((f) => f.name === name)
  assert.isDefined(found, `family ${name} is missing`)
  return found!
}

/** The sample lines of `name` (any labels) in a text body. */
const lines = (body: string, name: string): Array<string> =>
  body.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))

describe("PrometheusMetrics", () => {
  it.scopedLive("serves every kind of metric on a port chosen by the system, in the text format 0.0.4", () =>
    Effect.gen(function*() {
      const p = fresh("kinds")
      const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
      assert.isAbove(endpoint.port, 0)
      assert.strictEqual(endpoint.url, `http://127.0.0.1:${endpoint.port}/metrics`)

      const requests = Metric.counter(`${p}requests`, { description: "Requests handled" })
      yield* Metric.incrementBy(Metric.tagged(requests, "method", "GET"), 3)
      yield* Metric.incrementBy(Metric.tagged(requests, "method", "POST"), 2)
      yield* Metric.incrementBy(Metric.counter(`${p}errors_total`), 1)
      const weird = "C:\\dir\\\"file\"\nline two"
      yield* Metric.set(
        Metric.gauge(`${p}queue_depth`, { description: "Depth of the queue\nin records \\ items" }).pipe(
          Metric.tagged("path", weird)
        ),
        7
      )
      const latency = Metric.histogram(`${p}latency_seconds`, MetricBoundaries.fromIterable([0.1, 0.5, 1]))
      yield* Effect.forEach([0.05, 0.3, 0.3, 2], (v) => Metric.update(latency, v))
      const sizes = Metric.summary({
        name: `${p}size_bytes`,
        maxAge: "1 minute",
        maxSize: 100,
        error: 0.01,
        quantiles: [0.5, 0.9]
      })
      yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], (v) => Metric.update(sizes, v))
      const outcomes = Metric.frequency(`${p}outcome`, { description: "Outcomes" })
      yield* Effect.forEach(["ok", "ok", "fail"], (w) => Metric.update(outcomes, w))
      yield* Metric.increment(Metric.tagged(Metric.counter(`${p}dotted.name-x`), "bad-label", "v"))

      const { body, contentType, status } = yield* scrape(endpoint)
      assert.strictEqual(status, 200)
      assert.strictEqual(contentType, "text/plain; version=0.0.4; charset=utf-8")
      assert.isTrue(body.endsWith("\n"))
      const families = parse(body)

      const req = family(families, `${p}requests_total`)
      assert.strictEqual(req.type, "COUNTER")
      assert.strictEqual(req.help, "Requests handled")
      assert.deepStrictEqual(
        req.metrics.map((m) => [m.labels?.method, m.value]),
        [["GET", "3"], ["POST", "2"]]
      )
      assert.strictEqual(family(families, `${p}errors_total`).metrics[0].value, "1")
      assert.isUndefined(families.find((f) => f.name === `${p}errors_total_total`))

      const depth = family(families, `${p}queue_depth`)
      assert.strictEqual(depth.type, "GAUGE")
      assert.strictEqual(depth.help, "Depth of the queue\nin records \\ items")
      assert.deepStrictEqual(depth.metrics[0].labels, { path: weird })
      assert.strictEqual(depth.metrics[0].value, "7")
      assert.include(body, `# HELP ${p}queue_depth Depth of the queue\\nin records \\\\ items\n`)
      assert.include(body, `${p}queue_depth{path="C:\\\\dir\\\\\\"file\\"\\nline two"} 7\n`)

      const hist = family(families, `${p}latency_seconds`)
      assert.strictEqual(hist.type, "HISTOGRAM")
      assert.deepStrictEqual(hist.metrics[0].buckets, { "0.1": "1", "0.5": "3", "1": "3", "+Inf": "4" })
      assert.strictEqual(hist.metrics[0].count, "4")
      assert.strictEqual(Number(hist.metrics[0].sum), 2.65)
      assert.deepStrictEqual(lines(body, `${p}latency_seconds_bucket`), [
        `${p}latency_seconds_bucket{le="0.1"} 1`,
        `${p}latency_seconds_bucket{le="0.5"} 3`,
        `${p}latency_seconds_bucket{le="1"} 3`,
        `${p}latency_seconds_bucket{le="+Inf"} 4`
      ])

      const summary = family(families, `${p}size_bytes`)
      assert.strictEqual(summary.type, "SUMMARY")
      assert.deepStrictEqual(Object.keys(summary.metrics[0].quantiles ?? {}), ["0.5", "0.9"])
      assert.strictEqual(Number(summary.metrics[0].quantiles?.["0.5"]), 5)
      assert.strictEqual(Number(summary.metrics[0].quantiles?.["0.9"]), 9)
      assert.strictEqual(summary.metrics[0].count, "10")
      assert.strictEqual(summary.metrics[0].sum, "55")

      const freq = family(families, `${p}outcome_total`)
      assert.strictEqual(freq.type, "COUNTER")
      assert.strictEqual(freq.help, "Outcomes")
      assert.deepStrictEqual(
        freq.metrics.map((m) => [m.labels?.key, m.value]),
        [["fail", "1"], ["ok", "2"]]
      )

      const sanitized = family(families, `${p}dotted_name_x_total`)
      assert.deepStrictEqual(sanitized.metrics[0].labels, { bad_label: "v" })

      // one HELP and one TYPE line per family, TYPE before the family's samples
      for (const name of [`${p}requests_total`, `${p}latency_seconds`, `${p}outcome_total`]) {
        assert.strictEqual(body.split(`# TYPE ${name} `).length, 2)
        assert.isBelow(body.indexOf(`# TYPE ${name} `), body.indexOf(`\n${name}`))
      }
    }).pipe(Effect.provide(PrometheusMetrics.layer({ port: 0 }))))

  it.scopedLive("labelled histograms and summaries: cumulative buckets up to +Inf, then _sum and _count, per series", () =>
    Effect.gen(function*() {
      const p = fresh("labelled")
      const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
      const latency = Metric.histogram(`${p}put_seconds`, MetricBoundaries.fromIterable([0.01, 0.1]))
      yield* Effect.forEach([0.005, 0.05, 0.5], (v) => Metric.update(Metric.tagged(latency, "stream", "a"), v))
      yield* Metric.update(Metric.tagged(latency, "stream", "b"), 0.05)
      // a tag named like the bucket label is renamed, not clobbered
      yield* Metric.update(Metric.tagged(latency, "le", "mine"), 0.05)
      const sizes = Metric.summary({ name: `${p}bytes`, maxAge: "1 minute", maxSize: 10, error: 0, quantiles: [0.5] })
      yield* Metric.update(Metric.tagged(sizes, "stream", "a"), 3)

      const { body } = yield* scrape(endpoint)
      assert.deepStrictEqual(lines(body, `${p}put_seconds_bucket`), [
        `${p}put_seconds_bucket{exported_le="mine",le="0.01"} 0`,
        `${p}put_seconds_bucket{exported_le="mine",le="0.1"} 1`,
        `${p}put_seconds_bucket{exported_le="mine",le="+Inf"} 1`,
        `${p}put_seconds_bucket{stream="a",le="0.01"} 1`,
        `${p}put_seconds_bucket{stream="a",le="0.1"} 2`,
        `${p}put_seconds_bucket{stream="a",le="+Inf"} 3`,
        `${p}put_seconds_bucket{stream="b",le="0.01"} 0`,
        `${p}put_seconds_bucket{stream="b",le="0.1"} 1`,
        `${p}put_seconds_bucket{stream="b",le="+Inf"} 1`
      ])
      const block = body.slice(body.indexOf(`# TYPE ${p}put_seconds histogram`)).split("\n").slice(1, 16)
      assert.deepStrictEqual(block.slice(3, 5), [
        `${p}put_seconds_sum{exported_le="mine"} 0.05`,
        `${p}put_seconds_count{exported_le="mine"} 1`
      ])
      assert.deepStrictEqual(block.slice(8, 10), [
        `${p}put_seconds_sum{stream="a"} 0.555`,
        `${p}put_seconds_count{stream="a"} 3`
      ])
      assert.deepStrictEqual(lines(body, `${p}bytes`), [`${p}bytes{stream="a",quantile="0.5"} 3`])
      assert.deepStrictEqual(lines(body, `${p}bytes_sum`), [`${p}bytes_sum{stream="a"} 3`])
      assert.deepStrictEqual(lines(body, `${p}bytes_count`), [`${p}bytes_count{stream="a"} 1`])
      // the whole body still parses
      assert.isAbove(parse(body).length, 0)
    }).pipe(Effect.provide(PrometheusMetrics.layer({ port: 0 }))))

  it.scopedLive("answers only its path: 404 elsewhere, 405 to other methods; a custom path and HEAD", () =>
    Effect.gen(function*() {
      const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
      assert.strictEqual(endpoint.path, "/internal/metrics")
      const base = `http://127.0.0.1:${endpoint.port}`
      const statuses = yield* Effect.promise(() =>
        Promise.all([
          fetch(`${base}/internal/metrics?x=1`).then((r) => r.status),
          fetch(`${base}/metrics`).then((r) => r.status),
          fetch(`${base}/internal/metrics`, { method: "POST" }).then((r) => r.status),
          fetch(`${base}/internal/metrics`, { method: "HEAD" }).then((r) => r.status)
        ])
      )
      assert.deepStrictEqual(statuses, [200, 404, 405, 200])
    }).pipe(Effect.provide(PrometheusMetrics.layer({ port: 0, path: "/internal/metrics" }))))

  it.scopedLive("the producer's and consumer's KinesisMetrics of a run on KinesisTest are served", () => {
    const stream = `prom-kinesis-${process.pid}-${sequence++}`
    return Effect.gen(function*() {
      const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
      yield* Stream.range(1, 40).pipe(Stream.run(Producer.sink({ stream, shardLimits: false })))
      yield* Consumer.stream({ stream, idleDelay: "50 millis", checkpointInterval: "100 millis" }).pipe(
        Stream.take(40),
        Stream.runDrain
      )
      const { body } = yield* scrape(endpoint)
      const families = parse(body)
      const of = (name: string) =>
        family(families, name).metrics.filter((m) => m.labels?.stream === stream || m.labels === undefined)

      const records = family(families, "kinesis_producer_records_total")
      assert.strictEqual(records.type, "COUNTER")
      assert.strictEqual(records.help, "User records delivered to Kinesis by producers")
      assert.deepStrictEqual(records.metrics.filter((m) => m.labels?.stream === stream).map((m) => m.value), ["40"])
      assert.strictEqual(family(families, "kinesis_producer_batch_records").type, "HISTOGRAM")
      assert.strictEqual(family(families, "kinesis_producer_put_records_latency_seconds").type, "HISTOGRAM")
      assert.isAbove(
        lines(body, "kinesis_producer_put_records_latency_seconds_bucket")
          .filter((l) => l.includes(`stream="${stream}"`)).length,
        0
      )
      assert.deepStrictEqual(of("kinesis_producer_queue_records").map((m) => m.value), ["0"])

      const consumed = family(families, "kinesis_consumer_records_total").metrics
        .filter((m) => m.labels?.stream === stream)
      assert.deepStrictEqual(consumed.map((m) => [m.labels?.shard, m.value]), [["shardId-000000000000", "40"]])
      const behind = family(families, "kinesis_consumer_behind_latest_seconds")
      assert.strictEqual(behind.type, "GAUGE")
      assert.isTrue(behind.metrics.some((m) => m.labels?.stream === stream && m.labels?.shard !== undefined))
      assert.strictEqual(family(families, "kinesis_consumer_leases_held").type, "GAUGE")
    }).pipe(
      Effect.provide(Layer.mergeAll(
        PrometheusMetrics.layer({ port: 0 }),
        Checkpointer.layerMemory({ workerId: "prom-worker" })
      )),
      Effect.provide(KinesisTest.layer({ streams: { [stream]: { shards: 1 } }, limits: false }))
    )
  })

  it.scopedLive("layerConfig(config) reads PROMETHEUS_PORT, PROMETHEUS_HOST and PROMETHEUS_PATH", () =>
    Effect.gen(function*() {
      const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
      assert.strictEqual(endpoint.hostname, "127.0.0.1")
      assert.strictEqual(endpoint.path, "/m")
      const { status } = yield* scrape(endpoint)
      assert.strictEqual(status, 200)
    }).pipe(
      Effect.provide(PrometheusMetrics.layerConfig(PrometheusMetrics.config)),
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["PROMETHEUS_PORT", "0"], ["PROMETHEUS_PATH", "/m"]]))
      )
    ))

  it.scopedLive("layerConfig with one Config per option; a missing one is a ConfigError", () =>
    Effect.gen(function*() {
      const layer = PrometheusMetrics.layerConfig({
        port: Config.integer("METRICS_PORT"), // 0: a free port (Config.port refuses 0)
        path: Config.string("METRICS_PATH")
      })
      const { endpoint, status } = yield* Effect.gen(function*() {
        const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
        const { status } = yield* scrape(endpoint)
        return { endpoint, status }
      }).pipe(
        Effect.provide(layer),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["METRICS_PORT", "0"], ["METRICS_PATH", "/scrape"]])))
      )
      assert.strictEqual(endpoint.path, "/scrape")
      assert.isAbove(endpoint.port, 0)
      assert.strictEqual(status, 200)
      const missing = yield* Effect.flip(
        PrometheusMetrics.PrometheusEndpoint.pipe(
          Effect.provide(layer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["METRICS_PORT", "0"]])))
        )
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "METRICS_PATH")
    }))

  it("render is pure: a hand-made snapshot gives the exact text; a name taken by another type is left out", () => {
    const counter = MetricKey.counter("jobs", { description: "Jobs\\done" }).pipe(MetricKey.tagged("queue", "a\"b"))
    const clash = MetricKey.gauge("jobs_total")
    const hist = MetricKey.histogram("wait_seconds", MetricBoundaries.fromIterable([1, 2]))
    const summary = MetricKey.summary({
      name: "size",
      maxAge: Duration.minutes(1),
      maxSize: 10,
      error: 0,
      quantiles: [0.99, 0.5]
    })
    const text = PrometheusMetrics.render([
      MetricPair.unsafeMake(counter, MetricState.counter(3)),
      MetricPair.unsafeMake(clash, MetricState.gauge(1)),
      MetricPair.unsafeMake(
        hist,
        MetricState.histogram({
          buckets: [[2, 3], [1, 1], [Number.POSITIVE_INFINITY, 4]],
          count: 4,
          min: 0.5,
          max: 9,
          sum: 12.5
        })
      ),
      MetricPair.unsafeMake(
        summary,
        MetricState.summary({
          error: 0,
          quantiles: [[0.99, Option.none()], [0.5, Option.some(2)]],
          count: 2,
          min: 1,
          max: 3,
          sum: 4
        })
      ),
      MetricPair.unsafeMake(MetricKey.gauge("big", { bigint: true }), MetricState.gauge(BigInt("12345678901234567890")))
    ])
    assert.strictEqual(
      text,
      [
        "# TYPE big gauge",
        "big 12345678901234567890",
        "# HELP jobs_total Jobs\\\\done",
        "# TYPE jobs_total counter",
        "jobs_total{queue=\"a\\\"b\"} 3",
        "# TYPE size summary",
        "size{quantile=\"0.5\"} 2",
        "size{quantile=\"0.99\"} NaN",
        "size_sum 4",
        "size_count 2",
        "# TYPE wait_seconds histogram",
        "wait_seconds_bucket{le=\"1\"} 1",
        "wait_seconds_bucket{le=\"2\"} 3",
        "wait_seconds_bucket{le=\"+Inf\"} 4",
        "wait_seconds_sum 12.5",
        "wait_seconds_count 4",
        ""
      ].join("\n")
    )
    assert.strictEqual(PrometheusMetrics.render([]), "")
    assert.strictEqual(
      PrometheusMetrics.render([MetricPair.unsafeMake(counter, MetricState.counter(3))], {
        filter: (key) => key.name !== "jobs"
      }),
      ""
    )
  })
})
