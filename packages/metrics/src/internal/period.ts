/** @internal */
import type * as MetricKey from "effect/MetricKey"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"

/**
 * What one series did during a period, turned from Effect's cumulative metric states into what
 * CloudWatch wants: counter and frequency increases, gauge values, and statistic sets of the
 * observations histograms and summaries received.
 *
 * @internal
 */
export type Sample = ValueSample | StatisticsSample

/** @internal */
export interface ValueSample {
  readonly _tag: "Value"
  readonly kind: "counter" | "gauge"
  readonly key: MetricKey.MetricKey.Untyped
  readonly name: string
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly value: number
  /** Makes this period's state the base of the next period (call once the sample has been delivered). */
  readonly commit: () => void
}

/** @internal */
export interface StatisticsSample {
  readonly _tag: "Statistics"
  readonly kind: "histogram" | "summary"
  readonly key: MetricKey.MetricKey.Untyped
  readonly name: string
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly sampleCount: number
  readonly sum: number
  readonly minimum: number
  readonly maximum: number
  readonly commit: () => void
}

interface DistributionBase {
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  /** Cumulative bucket counts, in the order of the sorted bounds (histograms only). */
  readonly buckets: ReadonlyArray<number>
}

const seriesId = (kind: string, key: MetricKey.MetricKey.Untyped, extra: string): string =>
  JSON.stringify([kind, key.name, key.tags.map((t) => [t.key, t.value]), extra])

const tagsOf = (key: MetricKey.MetricKey.Untyped): Array<readonly [string, string]> =>
  key.tags.map((t) => [t.key, t.value] as const)

/**
 * The least and greatest observation of a period, from cumulative states. Effect keeps the all-time
 * minimum and maximum only: when the period set a new extreme, that extreme is exact; otherwise the
 * period's extreme lies between the all-time one and the edge of the lowest (highest) bucket that
 * received observations in the period, and the nearer bound is taken. Both are then kept on their
 * side of the period's mean and tightened by the sum (with n observations, none is below
 * `sum - (n - 1) * maximum`), so that one observation is its own minimum and maximum.
 */
const extremes = (
  previous: DistributionBase | undefined,
  current: DistributionBase,
  bounds: ReadonlyArray<number>,
  count: number,
  sum: number
): { readonly minimum: number; readonly maximum: number } => {
  const mean = sum / count
  let minimum = current.min
  let maximum = current.max
  const fresh = previous === undefined || previous.count === 0
  if (!fresh && current.buckets.length > 0) {
    let lowest = -1
    let highest = -1
    for (let i = 0; i < current.buckets.length; i++) {
      const now = current.buckets[i]! - (i === 0 ? 0 : current.buckets[i - 1]!)
      const before = (previous.buckets[i] ?? 0) - (i === 0 ? 0 : previous.buckets[i - 1] ?? 0)
      if (now - before > 0) {
        if (lowest === -1) lowest = i
        highest = i
      }
    }
    if (lowest !== -1 && !(current.min < previous.min)) {
      const lower = lowest === 0 ? Number.NEGATIVE_INFINITY : bounds[lowest - 1]!
      minimum = Math.max(lower, current.min)
    }
    if (highest !== -1 && !(current.max > previous.max)) {
      const upper = bounds[highest] ?? Number.POSITIVE_INFINITY
      maximum = Math.min(upper, current.max)
    }
  }
  if (!Number.isFinite(minimum) || minimum > mean) minimum = mean
  if (!Number.isFinite(maximum) || maximum < mean) maximum = mean
  // every observation lies within [minimum, maximum], so the others leave room for at most this much
  minimum = Math.max(minimum, sum - (count - 1) * maximum)
  maximum = Math.min(maximum, sum - (count - 1) * minimum)
  if (minimum > maximum) minimum = maximum = mean
  return { minimum, maximum }
}

/**
 * Turns successive snapshots into per-period samples. A sample's `commit` moves the base of its series
 * forward; a sample that is not committed (its delivery failed) is included in the next period.
 *
 * @internal
 */
export class PeriodTracker {
  private readonly counters = new Map<string, number>()
  private readonly distributions = new Map<string, DistributionBase>()

  collect(
    snapshot: Iterable<MetricPair.MetricPair.Untyped>,
    filter: ((key: MetricKey.MetricKey.Untyped) => boolean) | undefined
  ): Array<Sample> {
    const samples: Array<Sample> = []
    for (const { metricKey: key, metricState: state } of snapshot) {
      if (filter !== undefined && !filter(key)) continue
      if (MetricState.isCounterState(state)) {
        const id = seriesId("counter", key, "")
        const total = Number(state.count)
        const base = this.counters.get(id) ?? 0
        samples.push({
          _tag: "Value",
          kind: "counter",
          key,
          name: key.name,
          tags: tagsOf(key),
          value: total - base,
          commit: () => {
            this.counters.set(id, total)
          }
        })
      } else if (MetricState.isGaugeState(state)) {
        samples.push({
          _tag: "Value",
          kind: "gauge",
          key,
          name: key.name,
          tags: tagsOf(key),
          value: Number(state.value),
          commit: () => {}
        })
      } else if (MetricState.isFrequencyState(state)) {
        for (const [word, count] of state.occurrences) {
          const id = seriesId("frequency", key, word)
          const base = this.counters.get(id) ?? 0
          samples.push({
            _tag: "Value",
            kind: "counter",
            key,
            name: key.name,
            tags: [...tagsOf(key), ["key", word]],
            value: count - base,
            commit: () => {
              this.counters.set(id, count)
            }
          })
        }
      } else if (MetricState.isHistogramState(state) || MetricState.isSummaryState(state)) {
        const histogram = MetricState.isHistogramState(state)
        const kind = histogram ? "histogram" : "summary"
        const id = seriesId(kind, key, "")
        const sorted = histogram ? [...state.buckets].sort((a, b) => a[0] - b[0]) : []
        const current: DistributionBase = {
          count: state.count,
          sum: state.sum,
          min: state.min,
          max: state.max,
          buckets: sorted.map(([, n]) => n)
        }
        const previous = this.distributions.get(id)
        const sampleCount = current.count - (previous?.count ?? 0)
        if (sampleCount <= 0) continue
        const sum = current.sum - (previous?.sum ?? 0)
        const { maximum, minimum } = extremes(previous, current, sorted.map(([b]) => b), sampleCount, sum)
        samples.push({
          _tag: "Statistics",
          kind,
          key,
          name: key.name,
          tags: tagsOf(key),
          sampleCount,
          sum,
          minimum,
          maximum,
          commit: () => {
            this.distributions.set(id, current)
          }
        })
      }
    }
    return samples
  }
}
