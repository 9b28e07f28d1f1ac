/** @internal */
import {
  CloudWatchClient,
  type CloudWatchClientConfig,
  type MetricDatum,
  PutMetricDataCommand,
  type StandardUnit
} from "@aws-sdk/client-cloudwatch"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as CloudWatchMetrics from "../CloudWatchMetrics.js"
import { PeriodTracker, type Sample } from "./period.js"

// ---------------------------------------------------------------------------------------------
// limits and defaults
// ---------------------------------------------------------------------------------------------

/** @internal */
export const limits = {
  // PutMetricData API reference (docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html):
  // "Each PutMetricData request is limited to 1 MB in size for HTTP POST requests. [...] Each request is
  // also limited to no more than 1000 different metrics." and "You can use up to 30 dimensions per metric".
  // The SDK's own model says the same of MetricData: "The array can include no more than 1000 metrics per
  // call." (The limits were 20 metrics, 40 KB and 10 dimensions until 2022-2023; older docs still say so.)
  maxDatumsPerCall: 1000,
  maxBytesPerCall: 1_000_000,
  maxDimensionsPerDatum: 30,
  // API_Dimension.html: Name 1-255 characters, Value 1-1024 characters, ASCII without control characters,
  // at least one non-whitespace character, and a name cannot start with a colon.
  maxDimensionNameLength: 255,
  maxDimensionValueLength: 1024,
  // API_MetricDatum.html: MetricName 1-255 characters; values within -2^360..2^360, no NaN or infinities.
  maxMetricNameLength: 255,
  maxMagnitude: 2 ** 360,
  // Embedded metric format specification (CloudWatch_Embedded_Metric_Format_Specification.html):
  // "This array MUST NOT contain more than 100 MetricDefinition objects." and "A DimensionSet MUST NOT
  // contain more than 30 dimension keys."; its JSON schema caps a DimensionReference at 250 characters.
  maxEmfMetricsPerDocument: 100,
  maxEmfDimensionNameLength: 250
} as const

/** @internal */
export const defaults = {
  interval: Duration.seconds(60),
  shutdownTimeout: Duration.seconds(10),
  maxAttempts: 3,
  requestTimeout: Duration.seconds(10),
  connectionTimeout: Duration.seconds(5),
  maxSockets: 10
} as const

// ---------------------------------------------------------------------------------------------
// samples → datums
// ---------------------------------------------------------------------------------------------

const unitFromName = (name: string): StandardUnit => {
  if (/(^|_)(millis|milliseconds|ms)(_|$)/.test(name)) return "Milliseconds"
  if (/(^|_)(micros|microseconds)(_|$)/.test(name)) return "Microseconds"
  if (/(^|_)seconds(_|$)/.test(name)) return "Seconds"
  if (/(^|_)bytes(_|$)/.test(name)) return "Bytes"
  if (/(^|_)percent(_|$)/.test(name)) return "Percent"
  return "None"
}

/** @internal */
export const unitOf = (sample: Sample, unit: CloudWatchMetrics.CommonOptions["unit"]): StandardUnit => {
  const chosen = unit?.(sample.key)
  if (chosen !== undefined) return chosen
  return sample.kind === "counter" ? "Count" : unitFromName(sample.name)
}

const ascii = (s: string): string => s.replace(/[^\x20-\x7e]/g, "_")

const dimensionName = (name: string, max: number): string | undefined => {
  const clean = ascii(name).slice(0, max)
  if (clean.trim().length === 0) return undefined
  return clean.startsWith(":") ? `_${clean.slice(1)}` : clean
}

const dimensionValue = (value: string): string | undefined => {
  const clean = ascii(value).slice(0, limits.maxDimensionValueLength)
  return clean.trim().length === 0 ? undefined : clean
}

/** @internal */
export interface Dimensions {
  readonly pairs: ReadonlyArray<readonly [string, string]>
  readonly dropped: number
}

/**
 * The static dimensions first, then the metric's tags (a tag named like a static dimension is left
 * out), each cleaned to CloudWatch's rules, at most 30.
 *
 * @internal
 */
export const dimensionsOf = (
  statics: ReadonlyArray<readonly [string, string]>,
  tags: ReadonlyArray<readonly [string, string]>,
  maxNameLength: number
): Dimensions => {
  const pairs: Array<readonly [string, string]> = []
  const seen = new Set<string>()
  let dropped = 0
  for (const [rawName, rawValue] of [...statics, ...tags]) {
    const name = dimensionName(rawName, maxNameLength)
    const value = dimensionValue(rawValue)
    if (name === undefined || value === undefined || seen.has(name)) continue
    if (pairs.length >= limits.maxDimensionsPerDatum) {
      dropped++
      continue
    }
    seen.add(name)
    pairs.push([name, value])
  }
  return { pairs, dropped }
}

/** Values CloudWatch accepts: finite, within ±2^360; magnitudes below 2^-360 are sent as 0. */
const acceptable = (value: number): number | undefined => {
  if (!Number.isFinite(value) || Math.abs(value) > limits.maxMagnitude) return undefined
  return Math.abs(value) < 1 / limits.maxMagnitude ? 0 : value
}

/** @internal */
export interface Prepared {
  readonly datum: MetricDatum
  readonly sample: Sample
  /** Estimated bytes of the datum in the JSON body. */
  readonly size: number
}

/** @internal */
export const toDatum = (
  sample: Sample,
  statics: ReadonlyArray<readonly [string, string]>,
  options: CloudWatchMetrics.CommonOptions,
  timestamp: Date,
  warn: (message: string) => void
): Prepared | undefined => {
  const name = sample.name.slice(0, limits.maxMetricNameLength)
  if (name.length === 0) return undefined
  const dims = dimensionsOf(statics, sample.tags, limits.maxDimensionNameLength)
  if (dims.dropped > 0) {
    warn(`metric "${sample.name}": ${dims.dropped} dimension(s) past CloudWatch's 30 per metric were left out`)
  }
  const datum: MetricDatum = {
    MetricName: name,
    Timestamp: timestamp,
    Unit: unitOf(sample, options.unit)
  }
  if (dims.pairs.length > 0) datum.Dimensions = dims.pairs.map(([Name, Value]) => ({ Name, Value }))
  if (options.storageResolution !== undefined) datum.StorageResolution = options.storageResolution
  if (sample._tag === "Value") {
    const value = acceptable(sample.value)
    if (value === undefined) {
      warn(`metric "${sample.name}": value ${sample.value} is not accepted by CloudWatch and was left out`)
      return undefined
    }
    datum.Value = value
  } else {
    const sum = acceptable(sample.sum)
    const minimum = acceptable(sample.minimum)
    const maximum = acceptable(sample.maximum)
    if (sum === undefined || minimum === undefined || maximum === undefined) {
      warn(`metric "${sample.name}": statistics out of CloudWatch's range were left out`)
      return undefined
    }
    datum.StatisticValues = { SampleCount: sample.sampleCount, Sum: sum, Minimum: minimum, Maximum: maximum }
  }
  // the AWS JSON protocol sends Timestamp as epoch seconds; no such number reaches 1e10
  const size = Buffer.byteLength(JSON.stringify({ ...datum, Timestamp: 1e10 + 0.123 })) + 1
  return { datum, sample, size }
}

/**
 * Splits datums into calls of at most `maxDatums` datums and `maxBytes` bytes of JSON body.
 *
 * @internal
 */
export const batches = (
  prepared: ReadonlyArray<Prepared>,
  namespace: string,
  maxDatums: number,
  maxBytes: number
): Array<Array<Prepared>> => {
  const envelope = Buffer.byteLength(JSON.stringify({ Namespace: namespace, MetricData: [] }))
  const out: Array<Array<Prepared>> = []
  let current: Array<Prepared> = []
  let bytes = envelope
  for (const p of prepared) {
    if (current.length > 0 && (current.length >= maxDatums || bytes + p.size > maxBytes)) {
      out.push(current)
      current = []
      bytes = envelope
    }
    current.push(p)
    bytes += p.size
  }
  if (current.length > 0) out.push(current)
  return out
}

/**
 * Whether a failed PutMetricData may succeed later (throttling, server faults, network errors, timeouts):
 * then the period's data is kept and sent with the next one. Other failures (a request CloudWatch
 * refuses) drop the data, or it would be refused again forever.
 *
 * @internal
 */
export const isTransient = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return true
  const name = "name" in error && typeof error.name === "string" ? error.name : ""
  if (/throttl|limitexceeded|timeout|unavailable|internal|abort/i.test(name)) return true
  const fault = "$fault" in error ? error.$fault : undefined
  return fault !== "client"
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

// ---------------------------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------------------------

/** @internal */
export const clientConfig = (options: CloudWatchMetrics.ClientOptions = {}): CloudWatchClientConfig => {
  const config: CloudWatchClientConfig = {
    ...options.clientConfig,
    maxAttempts: options.maxAttempts ?? options.clientConfig?.maxAttempts ?? defaults.maxAttempts
  }
  if (options.region !== undefined) config.region = options.region
  if (options.endpoint !== undefined) config.endpoint = options.endpoint
  if (options.credentials !== undefined) config.credentials = options.credentials
  if (options.requestHandler !== undefined) {
    config.requestHandler = options.requestHandler
  } else if (options.clientConfig?.requestHandler === undefined) {
    // explicit timeouts, so that a hung endpoint cannot hold a flush (or the shutdown) forever
    const maxSockets = options.maxSockets ?? defaults.maxSockets
    config.requestHandler = new NodeHttpHandler({
      httpAgent: new Http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new Https.Agent({ keepAlive: true, maxSockets }),
      requestTimeout: Duration.toMillis(options.requestTimeout ?? defaults.requestTimeout),
      connectionTimeout: Duration.toMillis(options.connectionTimeout ?? defaults.connectionTimeout)
    })
  }
  return config
}

/** @internal */
export const makeClient = (
  options?: CloudWatchMetrics.ClientOptions
): Effect.Effect<CloudWatchClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new CloudWatchClient(clientConfig(options))),
    (client) => Effect.sync(() => client.destroy())
  )

// ---------------------------------------------------------------------------------------------
// exporters
// ---------------------------------------------------------------------------------------------

const staticDimensions = (options: CloudWatchMetrics.CommonOptions): Array<readonly [string, string]> =>
  Object.entries(options.dimensions ?? {})

/** Warns once per distinct message, so that a bad metric does not fill the logs every period. */
const makeWarner = () => {
  const seen = new Set<string>()
  const pending: Array<string> = []
  return {
    warn: (message: string) => {
      if (seen.has(message)) return
      seen.add(message)
      pending.push(message)
    },
    drain: Effect.suspend(() => Effect.forEach(pending.splice(0), (m) => Effect.logWarning(m), { discard: true }))
  }
}

/**
 * Runs `flush` every `interval` (owned by the scope) and once more when the scope closes, bounded by
 * `shutdownTimeout`. `flush` never fails.
 */
const schedule = (
  flush: Effect.Effect<void>,
  options: CloudWatchMetrics.CommonOptions
): Effect.Effect<CloudWatchMetrics.Exporter, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() =>
      flush.pipe(
        Effect.interruptible,
        Effect.timeoutOption(options.shutdownTimeout ?? defaults.shutdownTimeout),
        Effect.flatMap(Option.match({
          onNone: () => Effect.logWarning("CloudWatch metrics: the final flush did not finish in time"),
          onSome: () => Effect.void
        }))
      )
    )
    yield* Effect.sleep(options.interval ?? defaults.interval).pipe(
      Effect.zipRight(flush),
      Effect.forever,
      Effect.forkScoped
    )
    return { flush }
  })

const guarded = (label: string, effect: Effect.Effect<void>): Effect.Effect<void> =>
  effect.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logError(`${label} failed`).pipe(Effect.annotateLogs("cause", Cause.pretty(cause)))
    )
  )

/** @internal */
export const make = (
  options: CloudWatchMetrics.CloudWatchMetricsOptions
): Effect.Effect<CloudWatchMetrics.Exporter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const client = options.client ?? (yield* makeClient(options))
    const tracker = new PeriodTracker()
    const statics = staticDimensions(options)
    const warner = makeWarner()
    const semaphore = yield* Effect.makeSemaphore(1)
    const maxDatums = Math.min(options.maxDatumsPerCall ?? limits.maxDatumsPerCall, limits.maxDatumsPerCall)
    const maxBytes = Math.min(options.maxBytesPerCall ?? limits.maxBytesPerCall, limits.maxBytesPerCall)

    const send = (batch: ReadonlyArray<Prepared>): Effect.Effect<void> =>
      Effect.uninterruptibleMask((restore) =>
        restore(
          Effect.tryPromise({
            try: (signal) =>
              client.send(
                new PutMetricDataCommand({ Namespace: options.namespace, MetricData: batch.map((p) => p.datum) }),
                { abortSignal: signal }
              ),
            catch: (error) => error
          })
        ).pipe(
          Effect.matchEffect({
            onSuccess: () =>
              Effect.sync(() => {
                for (const p of batch) p.sample.commit()
              }),
            onFailure: (error) => {
              if (isTransient(error)) {
                return Effect.logWarning(
                  `CloudWatch PutMetricData of ${batch.length} metric(s) failed; they are sent again with the next period`
                ).pipe(Effect.annotateLogs("cause", errorMessage(error)))
              }
              return Effect.logError(
                `CloudWatch refused PutMetricData of ${batch.length} metric(s); they are dropped`
              ).pipe(
                Effect.annotateLogs("cause", errorMessage(error)),
                Effect.zipRight(Effect.sync(() => {
                  for (const p of batch) p.sample.commit()
                }))
              )
            }
          })
        )
      )

    const flush = semaphore.withPermits(1)(
      guarded(
        "CloudWatch metrics flush",
        Effect.gen(function*() {
          const snapshot = yield* Metric.snapshot
          const now = new Date(yield* Clock.currentTimeMillis)
          const prepared: Array<Prepared> = []
          for (const sample of tracker.collect(snapshot, options.filter)) {
            const p = toDatum(sample, statics, options, now, warner.warn)
            if (p !== undefined) prepared.push(p)
          }
          yield* warner.drain
          for (const batch of batches(prepared, options.namespace, maxDatums, maxBytes)) {
            yield* send(batch)
          }
        })
      )
    )

    return yield* schedule(flush, options)
  })

/** @internal */
export const layer = (options: CloudWatchMetrics.CloudWatchMetricsOptions): Layer.Layer<never> =>
  Layer.scopedDiscard(make(options))

// ---------------------------------------------------------------------------------------------
// Embedded Metric Format
// ---------------------------------------------------------------------------------------------

interface EmfMetric {
  readonly name: string
  readonly unit: StandardUnit
  readonly value: number
}

/**
 * The EMF documents of one period: one per distinct set of dimension values, with at most 100 metrics
 * each. Histograms and summaries (EMF has no statistic sets) become `<name>_count`, `<name>_sum`,
 * `<name>_min` and `<name>_max`.
 *
 * @internal
 */
export const emfDocuments = (
  samples: ReadonlyArray<Sample>,
  options: CloudWatchMetrics.CommonOptions,
  timestamp: number,
  warn: (message: string) => void
): Array<Record<string, unknown>> => {
  const statics = staticDimensions(options)
  const groups = new Map<string, { dims: ReadonlyArray<readonly [string, string]>; metrics: Array<EmfMetric> }>()
  for (const sample of samples) {
    const dims = dimensionsOf(statics, sample.tags, limits.maxEmfDimensionNameLength)
    if (dims.dropped > 0) {
      warn(`metric "${sample.name}": ${dims.dropped} dimension(s) past CloudWatch's 30 per metric were left out`)
    }
    const unit = unitOf(sample, options.unit)
    const metrics: Array<EmfMetric> = sample._tag === "Value"
      ? [{ name: sample.name, unit, value: sample.value }]
      : [
        { name: `${sample.name}_count`, unit: "Count", value: sample.sampleCount },
        { name: `${sample.name}_sum`, unit, value: sample.sum },
        { name: `${sample.name}_min`, unit, value: sample.minimum },
        { name: `${sample.name}_max`, unit, value: sample.maximum }
      ]
    const groupKey = JSON.stringify(dims.pairs)
    let group = groups.get(groupKey)
    if (group === undefined) {
      group = { dims: dims.pairs, metrics: [] }
      groups.set(groupKey, group)
    }
    const dimNames = new Set(dims.pairs.map(([n]) => n))
    for (const m of metrics) {
      const value = acceptable(m.value)
      if (value === undefined) {
        warn(`metric "${m.name}": value ${m.value} is not accepted by CloudWatch and was left out`)
      } else if (m.name === "_aws" || dimNames.has(m.name) || m.name.length === 0) {
        warn(`metric "${m.name}": its name is taken by a dimension of the EMF document and it was left out`)
      } else {
        group.metrics.push({ ...m, value })
      }
    }
  }
  const documents: Array<Record<string, unknown>> = []
  for (const { dims, metrics } of groups.values()) {
    for (let i = 0; i < metrics.length; i += limits.maxEmfMetricsPerDocument) {
      const chunk = metrics.slice(i, i + limits.maxEmfMetricsPerDocument)
      const document: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [{
            Namespace: options.namespace,
            Dimensions: [dims.map(([n]) => n)],
            Metrics: chunk.map((m) => ({
              Name: m.name,
              Unit: m.unit,
              ...(options.storageResolution !== undefined ? { StorageResolution: options.storageResolution } : {})
            }))
          }]
        }
      }
      for (const [n, v] of dims) document[n] = v
      for (const m of chunk) document[m.name] = m.value
      documents.push(document)
    }
  }
  return documents
}

const writeStdout = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

/** @internal */
export const makeEmf = (
  options: CloudWatchMetrics.EmfOptions
): Effect.Effect<CloudWatchMetrics.Exporter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tracker = new PeriodTracker()
    const warner = makeWarner()
    const semaphore = yield* Effect.makeSemaphore(1)
    const write = options.write ?? writeStdout
    const flush = semaphore.withPermits(1)(
      guarded(
        "CloudWatch EMF metrics flush",
        Effect.gen(function*() {
          const snapshot = yield* Metric.snapshot
          const now = yield* Clock.currentTimeMillis
          const samples = tracker.collect(snapshot, options.filter)
          const documents = emfDocuments(samples, options, now, warner.warn)
          yield* warner.drain
          yield* Effect.sync(() => {
            for (const document of documents) write(JSON.stringify(document))
            for (const sample of samples) sample.commit()
          })
        })
      )
    )
    return yield* schedule(flush, options)
  })

/** @internal */
export const emf = (options: CloudWatchMetrics.EmfOptions): Layer.Layer<never> => Layer.scopedDiscard(makeEmf(options))

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/** @internal */
export const parseDimensions = (text: string): Either.Either<Record<string, string>, string> => {
  const out: Record<string, string> = {}
  for (const part of text.split(",")) {
    if (part.trim().length === 0) continue
    const eq = part.indexOf("=")
    if (eq <= 0) return Either.left(`expected Name=Value pairs separated by commas, got "${part}"`)
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return Either.right(out)
}

/** @internal */
export const config: Config.Config<CloudWatchMetrics.CloudWatchMetricsConfig> = Config.all({
  namespace: Config.nonEmptyString("CLOUDWATCH_NAMESPACE"),
  interval: Config.duration("CLOUDWATCH_INTERVAL").pipe(Config.withDefault(defaults.interval)),
  dimensions: Config.option(
    Config.string("CLOUDWATCH_DIMENSIONS").pipe(
      Config.mapOrFail((text) =>
        Either.mapLeft(parseDimensions(text), (message) => ConfigError.InvalidData(["CLOUDWATCH_DIMENSIONS"], message))
      )
    )
  ),
  storageResolution: Config.option(
    Config.integer("CLOUDWATCH_STORAGE_RESOLUTION").pipe(
      Config.validate({ message: "expected 1 or 60", validation: (n): n is 1 | 60 => n === 1 || n === 60 })
    )
  ),
  region: Config.option(Config.nonEmptyString("AWS_REGION")),
  endpoint: Config.option(Config.nonEmptyString("CLOUDWATCH_ENDPOINT")),
  accessKeyId: Config.option(Config.redacted("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("AWS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.redacted("AWS_SESSION_TOKEN")),
  maxAttempts: Config.integer("CLOUDWATCH_MAX_ATTEMPTS").pipe(Config.withDefault(defaults.maxAttempts))
}).pipe(Config.map((c): CloudWatchMetrics.CloudWatchMetricsConfig => ({
  namespace: c.namespace,
  interval: c.interval,
  maxAttempts: c.maxAttempts,
  dimensions: Option.getOrUndefined(c.dimensions),
  storageResolution: Option.getOrUndefined(c.storageResolution),
  region: Option.getOrUndefined(c.region),
  endpoint: Option.getOrUndefined(c.endpoint),
  credentials: Option.isSome(c.accessKeyId) && Option.isSome(c.secretAccessKey)
    ? {
      accessKeyId: Redacted.value(c.accessKeyId.value),
      secretAccessKey: Redacted.value(c.secretAccessKey.value),
      ...(Option.isSome(c.sessionToken) ? { sessionToken: Redacted.value(c.sessionToken.value) } : {})
    }
    : undefined
})))

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<CloudWatchMetrics.CloudWatchMetricsConfig>
): Layer.Layer<never, ConfigError.ConfigError> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
