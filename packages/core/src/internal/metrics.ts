/**
 * Metric updates on hot paths.
 *
 * `Metric.tagged(m, k, v)` builds a new label array on every update, so each update hashes a new
 * metric key and looks it up in the registry. A metric's own hook cache is keyed by the identity of
 * the label array, so updating with one stable array costs one lookup in all. `bind` does that: the
 * labels are the given ones plus the fiber's `Effect.tagMetrics` labels, read once (the producer's
 * and consumer's fibers are forked from the fiber that made them and inherit those labels), in the
 * order `Metric.tagged` + `Metric.update` would use, so the same registry entries are updated.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/** Updates a metric synchronously (inside an `Effect.sync` or plain code). @internal */
export type Update<In> = (input: In) => void

/** @internal */
export interface Binder {
  /** `metric` tagged with this binder's labels plus `extra` (key, value) pairs. */
  readonly bind: <Type, In, Out>(
    metric: Metric.Metric<Type, In, Out>,
    ...extra: ReadonlyArray<readonly [string, string]>
  ) => Update<In>
}

/** A binder for `labels` (key, value pairs), plus the current fiber's metric labels. @internal */
export const binder = (
  ...labels: ReadonlyArray<readonly [string, string]>
): Effect.Effect<Binder> =>
  Effect.map(FiberRef.get(FiberRef.currentMetricLabels), (fiberLabels): Binder => ({
    bind: (metric, ...extra) => {
      const own = [...labels, ...extra].map(([key, value]) => MetricLabel.make(key, value))
      const stable = Arr.union(own, fiberLabels)
      return (input) => metric.unsafeUpdate(input, stable)
    }
  }))
