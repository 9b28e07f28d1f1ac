/** @internal */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Headers from "@effect/platform/Headers"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Http from "node:http"
import type * as PrometheusMetrics from "../PrometheusMetrics.js"
import { PrometheusEndpoint as EndpointTag } from "../PrometheusMetrics.js"

/** @internal */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** @internal */
export const defaults = {
  port: 9464,
  host: "127.0.0.1",
  path: "/metrics"
} as const

// ---------------------------------------------------------------------------------------------
// names and escaping
// ---------------------------------------------------------------------------------------------

/** @internal */
export const sanitizeMetricName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  if (replaced.length === 0) return "_"
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced
}

/** @internal */
export const sanitizeLabelName = (name: string): string => {
  // label names may not hold colons (they are reserved for recording rules in metric names only)
  const replaced = name.replace(/[^a-zA-Z0-9_]/g, "_")
  if (replaced.length === 0) return "_"
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced
}

/** @internal */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

/** @internal */
export const escapeHelp = (help: string): string => help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** @internal */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

type Labels = ReadonlyArray<readonly [string, string]>

const formatLabels = (labels: Labels): string =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`

/**
 * The metric's tags as label pairs: names sanitized, the first of duplicate names kept, and a tag that
 * would clash with a label the format adds (`le`, `quantile`, `key`) renamed `exported_<name>`.
 */
const seriesLabels = (pair: MetricPair.MetricPair.Untyped, reserved: string | undefined): Array<[string, string]> => {
  const seen = new Set<string>()
  const labels: Array<[string, string]> = []
  for (const tag of pair.metricKey.tags) {
    let name = sanitizeLabelName(tag.key)
    if (name === reserved) name = `exported_${name}`
    if (seen.has(name)) continue
    seen.add(name)
    labels.push([name, tag.value])
  }
  return labels
}

const counterName = (name: string): string => name.endsWith("_total") ? name : `${name}_total`

// ---------------------------------------------------------------------------------------------
// rendering
// ---------------------------------------------------------------------------------------------

type FamilyType = "counter" | "gauge" | "histogram" | "summary"

interface Series {
  readonly sortKey: string
  readonly lines: Array<string>
}

interface Family {
  readonly name: string
  readonly type: FamilyType
  help: string | undefined
  readonly series: Map<string, Series>
}

/** @internal */
export const render = (
  snapshot: Iterable<MetricPair.MetricPair.Untyped>,
  options?: PrometheusMetrics.RenderOptions
): string => {
  const filter = options?.filter
  const families = new Map<string, Family>()

  const family = (pair: MetricPair.MetricPair.Untyped, name: string, type: FamilyType): Family | undefined => {
    const existing = families.get(name)
    if (existing !== undefined) {
      // one family name, one type: a metric of another type under the same name is left out
      if (existing.type !== type) return undefined
      if (existing.help === undefined) existing.help = Option.getOrUndefined(pair.metricKey.description)
      return existing
    }
    const created: Family = {
      name,
      type,
      help: Option.getOrUndefined(pair.metricKey.description),
      series: new Map()
    }
    families.set(name, created)
    return created
  }

  const add = (target: Family | undefined, labels: Labels, lines: Array<string>): void => {
    if (target === undefined) return
    const sortKey = formatLabels(labels)
    // each line must have a unique combination of name and labels: the first series wins
    if (target.series.has(sortKey)) return
    target.series.set(sortKey, { sortKey, lines })
  }

  for (const pair of snapshot) {
    if (filter !== undefined && !filter(pair.metricKey)) continue
    const state = pair.metricState
    const base = sanitizeMetricName(pair.metricKey.name)

    if (MetricState.isCounterState(state)) {
      const name = counterName(base)
      const labels = seriesLabels(pair, undefined)
      add(family(pair, name, "counter"), labels, [`${name}${formatLabels(labels)} ${formatValue(state.count)}`])
    } else if (MetricState.isGaugeState(state)) {
      const labels = seriesLabels(pair, undefined)
      add(family(pair, base, "gauge"), labels, [`${base}${formatLabels(labels)} ${formatValue(state.value)}`])
    } else if (MetricState.isHistogramState(state)) {
      const labels = seriesLabels(pair, "le")
      const lines: Array<string> = []
      const buckets = [...state.buckets].sort((a, b) => a[0] - b[0])
      let hasInf = false
      for (const [bound, cumulative] of buckets) {
        if (bound === Number.POSITIVE_INFINITY) hasInf = true
        lines.push(`${base}_bucket${formatLabels([...labels, ["le", formatValue(bound)]])} ${formatValue(cumulative)}`)
      }
      if (!hasInf) lines.push(`${base}_bucket${formatLabels([...labels, ["le", "+Inf"]])} ${formatValue(state.count)}`)
      lines.push(`${base}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      lines.push(`${base}_count${formatLabels(labels)} ${formatValue(state.count)}`)
      add(family(pair, base, "histogram"), labels, lines)
    } else if (MetricState.isSummaryState(state)) {
      const labels = seriesLabels(pair, "quantile")
      const lines: Array<string> = []
      const quantiles = [...state.quantiles].sort((a, b) => a[0] - b[0])
      for (const [quantile, value] of quantiles) {
        const text = Option.isSome(value) ? formatValue(value.value) : "NaN"
        lines.push(`${base}${formatLabels([...labels, ["quantile", formatValue(quantile)]])} ${text}`)
      }
      lines.push(`${base}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      lines.push(`${base}_count${formatLabels(labels)} ${formatValue(state.count)}`)
      add(family(pair, base, "summary"), labels, lines)
    } else if (MetricState.isFrequencyState(state)) {
      const name = counterName(base)
      const labels = seriesLabels(pair, "key")
      const target = family(pair, name, "counter")
      for (const [word, count] of state.occurrences) {
        const withKey: Labels = [...labels, ["key", word]]
        add(target, withKey, [`${name}${formatLabels(withKey)} ${formatValue(count)}`])
      }
    }
  }

  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.series.size === 0) continue
    if (f.help !== undefined && f.help.length > 0) out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${f.name} ${f.type}`)
    const series = [...f.series.values()].sort((a, b) => a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0)
    for (const s of series) out.push(...s.lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** @internal */
export const renderCurrent = (options?: PrometheusMetrics.RenderOptions): Effect.Effect<string> =>
  Effect.map(Metric.snapshot, (snapshot) => render(snapshot, options))

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** @internal */
export const response = (
  options?: PrometheusMetrics.RenderOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.map(renderCurrent(options), (body) => HttpServerResponse.text(body, { contentType }))

/** @internal */
export const httpApp = (
  options?: PrometheusMetrics.PrometheusMetricsOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> => {
  const path = options?.path ?? defaults.path
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const pathname = new URL(request.url, "http://localhost").pathname
    if (pathname !== path) return Effect.succeed(HttpServerResponse.text("Not Found\n", { status: 404 }))
    if (request.method !== "GET" && request.method !== "HEAD") {
      return Effect.succeed(
        HttpServerResponse.text("Method Not Allowed\n", {
          status: 405,
          headers: Headers.fromInput({ allow: "GET, HEAD" })
        })
      )
    }
    return response(options)
  })
}

/** @internal */
export const layer = (
  options?: PrometheusMetrics.PrometheusMetricsOptions
): Layer.Layer<EndpointTag, ServeError> => {
  const path = options?.path ?? defaults.path
  const server = NodeHttpServer.layerServer(() => Http.createServer(), {
    port: options?.port ?? defaults.port,
    host: options?.host ?? defaults.host
  })
  const serve = HttpServer.serve(httpApp(options)).pipe(
    // scrapes every few seconds would flood a tracer with spans
    HttpMiddleware.withTracerDisabledWhen(() => true)
  )
  const endpoint = Layer.effect(
    EndpointTag,
    HttpServer.addressWith((address) =>
      Effect.succeed<PrometheusMetrics.Endpoint>(
        address._tag === "TcpAddress"
          ? {
            hostname: address.hostname,
            port: address.port,
            path,
            url: `http://${
              address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
            }:${address.port}${path}`
          }
          : { hostname: address.path, port: 0, path, url: `unix:${address.path}:${path}` }
      )
    )
  )
  return Layer.merge(serve, endpoint).pipe(Layer.provide(server))
}

/** @internal */
export const config: Config.Config<PrometheusMetrics.PrometheusMetricsOptions> = Config.all({
  port: Config.integer("PROMETHEUS_PORT").pipe(Config.withDefault(defaults.port)),
  host: Config.nonEmptyString("PROMETHEUS_HOST").pipe(Config.withDefault(defaults.host)),
  path: Config.nonEmptyString("PROMETHEUS_PATH").pipe(Config.withDefault(defaults.path))
})

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<PrometheusMetrics.PrometheusMetricsOptions>
): Layer.Layer<EndpointTag, ConfigError.ConfigError | ServeError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
