/**
 * Every Effect metric of the process (the core's `KinesisMetrics` and your own) in the Prometheus text
 * exposition format 0.0.4, served over HTTP for Prometheus to scrape.
 *
 * How Effect metrics map to Prometheus families:
 *
 * | Effect metric | Prometheus family |
 * | --- | --- |
 * | counter | `counter`; `_total` is added to the name when it is missing |
 * | gauge | `gauge` |
 * | histogram | `histogram`: cumulative `_bucket{le="..."}` lines up to `le="+Inf"`, then `_sum` and `_count` |
 * | summary | `summary`: one line per quantile (`NaN` when its window is empty), then `_sum` and `_count` |
 * | frequency | `counter` (`_total` added) with one series per occurrence, labelled `key` |
 *
 * Metric tags become labels. Metric names are sanitized to `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names
 * to `[a-zA-Z_][a-zA-Z0-9_]*` (any other character becomes `_`); a tag named like a label the format
 * adds (`le` on histograms, `quantile` on summaries, `key` on frequencies) is renamed `exported_<name>`.
 * Label values are escaped (backslash, double quote, newline), and so is the metric description, which
 * becomes the `HELP` line. Families are sorted by name and series by labels; when two metrics of
 * different kinds end up with one family name, the first kind met keeps the name and the other is left
 * out (the format allows one `TYPE` per name).
 *
 * @example
 * ```ts
 * import { PrometheusMetrics } from "@effect-kinesis/metrics"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Metric } from "effect"
 *
 * const requests = Metric.counter("app_requests_total", { description: "Requests handled" })
 *
 * const program = Effect.gen(function*() {
 *   const endpoint = yield* PrometheusMetrics.PrometheusEndpoint
 *   yield* Effect.log(`metrics on ${endpoint.url}`)
 *   yield* Metric.increment(Metric.tagged(requests, "route", "/orders"))
 *   yield* Effect.never
 * })
 *
 * // GET http://0.0.0.0:9464/metrics
 * program.pipe(
 *   Effect.provide(PrometheusMetrics.layer({ port: 9464, host: "0.0.0.0" })),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { ServeError } from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as MetricKey from "effect/MetricKey"
import type * as MetricPair from "effect/MetricPair"
import * as internal from "./internal/prometheus.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RenderOptions {
  /** Only the metrics for which this returns true are rendered. Default: every metric. */
  readonly filter?: ((key: MetricKey.MetricKey.Untyped) => boolean) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PrometheusMetricsOptions extends RenderOptions {
  /** TCP port to listen on; `0` takes a free port (read it from `PrometheusEndpoint`). Default 9464. */
  readonly port?: number | undefined
  /** Address to listen on. Default `127.0.0.1`: set `0.0.0.0` (or `::`) for a scraper on another host. */
  readonly host?: string | undefined
  /** The path that serves the metrics; other paths answer 404. Default `/metrics`. */
  readonly path?: string | undefined
}

/**
 * Where the endpoint listens, once bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly hostname: string
  /** The bound port (the one the system chose when `port` was 0). */
  readonly port: number
  readonly path: string
  /** e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string
}

/**
 * The address of the running endpoint, provided by `layer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class PrometheusEndpoint extends Context.Tag("@effect-kinesis/metrics/PrometheusMetrics/PrometheusEndpoint")<
  PrometheusEndpoint,
  Endpoint
>() {}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly port: number
  readonly host: string
  readonly path: string
} = internal.defaults

/**
 * The `Content-Type` of the text format: `text/plain; version=0.0.4; charset=utf-8`.
 *
 * @since 0.1.0
 * @category models
 */
export const contentType: string = internal.contentType

/**
 * Renders a metric snapshot (`Metric.snapshot`) in the text exposition format 0.0.4. Pure: the result
 * ends with a newline unless it is empty.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render: (
  snapshot: Iterable<MetricPair.MetricPair.Untyped>,
  options?: RenderOptions
) => string = internal.render

/**
 * Every metric of the process now, rendered (for serving it yourself).
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderCurrent: (options?: RenderOptions) => Effect.Effect<string> = internal.renderCurrent

/**
 * The scrape response: the current metrics with the text format's `Content-Type`. Mount it on your own
 * router, e.g. `HttpRouter.get("/metrics", PrometheusMetrics.response())`.
 *
 * @since 0.1.0
 * @category http
 */
export const response: (options?: RenderOptions) => Effect.Effect<HttpServerResponse.HttpServerResponse> =
  internal.response

/**
 * An `HttpApp` that answers `GET`/`HEAD` on `path` with the metrics, 405 to other methods on it and 404
 * elsewhere. `layer` serves it; pass it to `HttpServer.serve` to run it on a server you build.
 *
 * @since 0.1.0
 * @category http
 */
export const httpApp: (
  options?: PrometheusMetricsOptions
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> = internal.httpApp

/**
 * An HTTP server of its own (Node `http` through `@effect/platform`'s `HttpServer`) serving `httpApp`
 * on `host:port`, closed when the layer is released. Requests to it are not traced. Provides the bound
 * address as `PrometheusEndpoint`; fails with `ServeError` when the port cannot be bound.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: PrometheusMetricsOptions) => Layer.Layer<PrometheusEndpoint, ServeError> = internal.layer

/**
 * The options from the standard environment variables: `PROMETHEUS_PORT` (default 9464),
 * `PROMETHEUS_HOST` (default `127.0.0.1`), `PROMETHEUS_PATH` (default `/metrics`). Pass it to
 * `layerConfig`.
 *
 * @since 0.1.0
 * @category Config
 */
export const config: Config.Config<PrometheusMetricsOptions> = internal.config

/**
 * The endpoint (as `layer`) with the options read from `Config`: either one
 * `Config<PrometheusMetricsOptions>` (such as `config`, which reads the standard environment variables)
 * or an object of one `Config` per option, e.g.
 * `PrometheusMetrics.layerConfig({ port: Config.port("METRICS_PORT") })`. Fails with a `ConfigError`
 * when the config cannot be read.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<PrometheusMetricsOptions>
) => Layer.Layer<PrometheusEndpoint, ConfigError.ConfigError | ServeError> = internal.layerConfig
