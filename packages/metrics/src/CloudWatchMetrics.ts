/**
 * Every Effect metric of the process (the core's `KinesisMetrics` and your own) sent to Amazon
 * CloudWatch: periodically with PutMetricData, or as Embedded Metric Format (EMF) log lines for Lambda.
 *
 * Each period (`interval`, default 60 seconds) becomes one data point per series:
 *
 * | Effect metric | CloudWatch datum |
 * | --- | --- |
 * | counter | the increase since the last period (the first period: its whole value), unit `Count` |
 * | gauge | its value |
 * | histogram, summary | a statistic set (SampleCount, Sum, Minimum, Maximum) of the period's observations; none when there were none |
 * | frequency | the increase of each occurrence, with a `key` dimension naming it |
 *
 * Metric tags become dimensions, after the static `dimensions` of the options (at most 30 in all: the
 * rest are left out with a warning). Dimension names and values are cut to CloudWatch's lengths and
 * their non-ASCII characters replaced by `_`. Units come from `unit`, else `Count` for counters and, for
 * the others, the name's unit word (`_seconds` → Seconds, `_millis` / `_ms` → Milliseconds, `_bytes` →
 * Bytes), else `None`.
 *
 * Effect keeps only all-time extremes: a period's Minimum (Maximum) is exact when the period set a new
 * one, and otherwise estimated from the histogram buckets that received observations, never past the
 * all-time extreme nor the period's mean.
 *
 * A period's data is split into PutMetricData calls of at most 1,000 datums and 1 MB (CloudWatch's
 * limits, see `limits`), sent one after the other. A call that fails on throttling, a server fault or
 * the network is logged and its data sent again with the next period (counters and statistic sets
 * accumulate); a call CloudWatch refuses is logged and dropped. Nothing fails or stops the program. When
 * the layer's scope closes, a last period is sent (bounded by `shutdownTimeout`).
 *
 * @example
 * ```ts
 * import { KinesisTest, Producer } from "@effect-kinesis/core"
 * import { CloudWatchMetrics } from "@effect-kinesis/metrics"
 * import { Effect, Layer, Stream } from "effect"
 *
 * const program = Stream.range(1, 1000).pipe(Stream.run(Producer.sink({ stream: "orders" })))
 *
 * program.pipe(
 *   Effect.provide(Layer.mergeAll(
 *     KinesisTest.layer({ streams: { orders: { shards: 2 } } }),
 *     CloudWatchMetrics.layer({
 *       namespace: "OrdersService",
 *       dimensions: { Service: "orders", Environment: "prod" },
 *       interval: "1 minute",
 *       region: "eu-west-1"
 *     })
 *   ))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { CloudWatchClient, CloudWatchClientConfig, StandardUnit } from "@aws-sdk/client-cloudwatch"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as MetricKey from "effect/MetricKey"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/cloudWatch.js"

/**
 * What PutMetricData and EMF exporters share.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** The CloudWatch namespace of every metric (must not start with `AWS/`). */
  readonly namespace: string
  /** How often a period is sent. Default 60 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** Dimensions added to every metric before its tags, e.g. `{ Service: "orders" }`. */
  readonly dimensions?: Readonly<Record<string, string>> | undefined
  /** 1 for high-resolution metrics, 60 for standard ones. Default: CloudWatch's (60). */
  readonly storageResolution?: 1 | 60 | undefined
  /** Only the metrics for which this returns true are sent. Default: every metric. */
  readonly filter?: ((key: MetricKey.MetricKey.Untyped) => boolean) | undefined
  /** The unit of a metric; `undefined` falls back to the default rule (see the module documentation). */
  readonly unit?: ((key: MetricKey.MetricKey.Untyped) => StandardUnit | undefined) | undefined
  /** How long the last send on shutdown may take. Default 10 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * How to build the `CloudWatchClient` when none is passed in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** AWS region; the SDK's default chain (AWS_REGION, profile) when absent. */
  readonly region?: string | undefined
  /** Endpoint URL, e.g. `http://127.0.0.1:4566` for a local server. */
  readonly endpoint?: string | undefined
  /** Credentials or a provider; the SDK's default chain when absent. */
  readonly credentials?: CloudWatchClientConfig["credentials"] | undefined
  /** Attempts the AWS SDK makes per call (with its backoff). Default 3. */
  readonly maxAttempts?: number | undefined
  /** Per-request socket timeout. Default 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Connection timeout. Default 5 seconds. */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Max sockets per host. Default 10. */
  readonly maxSockets?: number | undefined
  /** A request handler to use instead of the default `NodeHttpHandler` with the timeouts above. */
  readonly requestHandler?: CloudWatchClientConfig["requestHandler"] | undefined
  /** Any other `CloudWatchClient` configuration; the options above win. */
  readonly clientConfig?: CloudWatchClientConfig | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CloudWatchMetricsOptions extends CommonOptions, ClientOptions {
  /**
   * A client you own: used as it is (the client options are ignored) and not destroyed. Without it, a
   * client is built from the client options and destroyed after the last send.
   */
  readonly client?: CloudWatchClient | undefined
  /** Datums per PutMetricData call, at most (and by default) CloudWatch's 1,000. */
  readonly maxDatumsPerCall?: number | undefined
  /** Bytes of JSON body per call, at most (and by default) CloudWatch's 1 MB (1,000,000). */
  readonly maxBytesPerCall?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EmfOptions extends CommonOptions {
  /** Where each JSON document goes, one line each. Default: `process.stdout`. */
  readonly write?: ((line: string) => void) | undefined
}

/**
 * A running exporter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exporter {
  /**
   * Sends the period now (what changed since the last send), e.g. at the end of a Lambda invocation.
   * Never fails: failures are logged.
   */
  readonly flush: Effect.Effect<void>
}

/**
 * CloudWatch's limits this module keeps to. PutMetricData (API reference, `API_PutMetricData`): at
 * most 1,000 metrics and 1 MB per request, 30 dimensions per metric. Dimension (`API_Dimension`): names
 * 1–255 and values 1–1,024 ASCII characters. MetricDatum: names 1–255 characters, values within
 * ±2^360. Embedded metric format specification: at most 100 metrics per document and 30 dimension keys
 * per dimension set.
 *
 * @since 0.1.0
 * @category models
 */
export const limits: {
  readonly maxDatumsPerCall: number
  readonly maxBytesPerCall: number
  readonly maxDimensionsPerDatum: number
  readonly maxDimensionNameLength: number
  readonly maxDimensionValueLength: number
  readonly maxMetricNameLength: number
  readonly maxMagnitude: number
  readonly maxEmfMetricsPerDocument: number
  readonly maxEmfDimensionNameLength: number
} = internal.limits

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly interval: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly maxAttempts: number
  readonly requestTimeout: Duration.Duration
  readonly connectionTimeout: Duration.Duration
  readonly maxSockets: number
} = internal.defaults

/**
 * Builds a `CloudWatchClient` from the options, scoped: it is destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient: (options?: ClientOptions) => Effect.Effect<CloudWatchClient, never, Scope.Scope> =
  internal.makeClient

/**
 * Starts a PutMetricData exporter in the scope: a send every `interval`, and a last one when the scope
 * closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: CloudWatchMetricsOptions) => Effect.Effect<Exporter, never, Scope.Scope> = internal.make

/**
 * The PutMetricData exporter (see `make`) for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options: CloudWatchMetricsOptions) => Layer.Layer<never> = internal.layer

/**
 * What `layerConfig` reads: every option but `client` (a client you own is not configuration; give it
 * to `layer`).
 *
 * @since 0.1.0
 * @category models
 */
export type CloudWatchMetricsConfig = Omit<CloudWatchMetricsOptions, "client">

/**
 * The options from the standard environment variables: `CLOUDWATCH_NAMESPACE` (required),
 * `CLOUDWATCH_INTERVAL` (a duration such as `1 minute`; default 60 seconds), `CLOUDWATCH_DIMENSIONS`
 * (`Name=Value` pairs separated by commas), `CLOUDWATCH_STORAGE_RESOLUTION` (1 or 60), `AWS_REGION`,
 * `CLOUDWATCH_ENDPOINT`, `CLOUDWATCH_MAX_ATTEMPTS`, and `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`
 * (+ `AWS_SESSION_TOKEN`) — else the SDK's default credential chain. Pass it to `layerConfig`.
 *
 * @since 0.1.0
 * @category Config
 */
export const config: Config.Config<CloudWatchMetricsConfig> = internal.config

/**
 * The PutMetricData exporter (as `layer`) with the options read from `Config`: either one
 * `Config<CloudWatchMetricsConfig>` (such as `config`, which reads the standard environment variables)
 * or an object of one `Config` per option, e.g.
 * `CloudWatchMetrics.layerConfig({ namespace: Config.string("METRICS_NAMESPACE") })`. Fails with a
 * `ConfigError` when the config cannot be read.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<CloudWatchMetricsConfig>
) => Layer.Layer<never, ConfigError.ConfigError> = internal.layerConfig

/**
 * Starts an Embedded Metric Format exporter in the scope: every `interval`, and once more when the
 * scope closes, the period is written as EMF JSON documents, one line each — on Lambda (or with the
 * CloudWatch agent) CloudWatch Logs extracts the metrics, with no API call from the program. One
 * document per distinct set of dimension values, at most 100 metrics each. EMF has no statistic sets:
 * a histogram or summary becomes `<name>_count`, `<name>_sum`, `<name>_min` and `<name>_max`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEmf: (options: EmfOptions) => Effect.Effect<Exporter, never, Scope.Scope> = internal.makeEmf

/**
 * The EMF exporter (see `makeEmf`) for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const emf: (options: EmfOptions) => Layer.Layer<never> = internal.emf
