/**
 * Response handling: one PutRecords request and what its answer means for each record — delivered
 * (resolved, counted), failed for good (reported), or failed retryably (back at the head of its lane, in
 * order, after the lane's retry delay) — and re-listing the shards when an answer reveals a reshard.
 * It owns the retry decisions (the `Schedule` stepped per record) and whether a re-listing runs.
 *
 * Called by the dispatcher, which builds each request (`send`) and runs it on the producer's fibers;
 * it settles records in the ledger and re-installs the router's map (`refreshMap`).
 *
 * Invariants: a lane stays in flight until every record of its part has been settled or put back, so
 * nothing behind a failed record can be sent before it; records that failed together are retried
 * together, after the longest of their delays; the records of a request interrupted at the shutdown
 * deadline fail (their outcome is unknown), none is dropped unreported.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import type * as Kinesis from "../../Kinesis.js"
import { isRetryable, isThrottling } from "../../KinesisError.js"
import type * as StreamAddress from "../../StreamAddress.js"
import type { Update } from "../metrics.js"
import * as Tracing from "../tracing.js"
import type { Lane } from "./lane.js"
import type { Ledger } from "./ledger.js"
import { countOf, IN_FLIGHT_AT_CLOSE, type Pending, RETRYABLE_CODES } from "./records.js"
import type { Router } from "./router.js"
import type { RetryInput } from "./shapes.js"

/** A lane's part of a request: `entries[from, to)`, of `bytes` bytes. */
export interface Taken<A> {
  readonly lane: Lane<A>
  readonly from: number
  readonly to: number
  readonly bytes: number
}

/** A request sent and not yet answered. */
interface InFlight<A> {
  readonly batch: ReadonlyArray<Taken<A>>
  readonly entries: ReadonlyArray<Pending<A>>
}

/** The producer's metrics that responses update. */
export interface ResponseMetrics {
  readonly mRequests: Update<number>
  readonly mBatch: Update<number>
  readonly mLatency: Update<number>
  readonly mRecords: Update<number>
  readonly mKinesisRecords: Update<number>
  readonly mBytes: Update<number>
  readonly mThrottled: Update<number>
  readonly mRetries: Update<number>
}

/** What response handling works with. */
export interface ResponsesContext<A> {
  readonly kinesis: Kinesis.Service
  readonly stream: StreamAddress.StreamAddress
  readonly clock: Clock.Clock
  readonly scope: Scope.Scope
  readonly schedule: Schedule.Schedule<unknown, RetryInput>
  /** One user record per Kinesis record (no aggregation). */
  readonly direct: boolean
  readonly ledger: Ledger<A>
  readonly router: Router<A>
  readonly listShards: Effect.Effect<ReadonlyArray<Kinesis.Shard>, Kinesis.ListShardsError>
  /** Undefined when metrics are off. */
  readonly metrics: ResponseMetrics | undefined
  /** A request ended: its lanes may send again and writers may have room. */
  readonly settled: () => void
  /** Something changed that the dispatcher should look at. */
  readonly changed: () => void
}

const noop = () => {}
const NO_METRICS: ResponseMetrics = {
  mRequests: noop,
  mBatch: noop,
  mLatency: noop,
  mRecords: noop,
  mKinesisRecords: noop,
  mBytes: noop,
  mThrottled: noop,
  mRetries: noop
}

/** @internal */
export const makeResponses = <A>(ctx: ResponsesContext<A>) => {
  const { changed, clock, direct, kinesis, ledger, listShards, router, schedule, scope, settled, stream } = ctx
  const metricsOn = ctx.metrics !== undefined
  const { mBatch, mBytes, mKinesisRecords, mLatency, mRecords, mRequests, mRetries, mThrottled } = ctx.metrics ??
    NO_METRICS
  let refreshing = false
  /** Requests sent whose answer has not been handled. */
  const inFlight = new Set<InFlight<A>>()

  /**
   * Fails the records of the requests still in flight (after the dispatcher interrupted them at the
   * shutdown deadline): their outcome is unknown, so they are reported, none is dropped.
   */
  const failInFlight = () => {
    for (const { batch, entries } of inFlight) {
      ledger.inFlightRequests--
      for (const { lane } of batch) lane.inFlight = false
      ledger.fail(entries, IN_FLIGHT_AT_CLOSE)
    }
    inFlight.clear()
  }

  /**
   * Puts records back at the head of their lane, in order, before anything can yield (so nothing behind
   * them can be sent first), then steps each record's retry schedule: the lane waits for the longest
   * delay, and a record whose schedule has ended is given up on (reported in `PutRecordsFailed`).
   */
  const retryLane = (lane: Lane<A>, list: Array<Pending<A>>, input: RetryInput, now: number) =>
    Effect.suspend(() => {
      // the lane stays in flight (nothing of it is sent) until every record's schedule has decided
      lane.ready.replace(list.concat(lane.ready.waiting()))
      for (const p of list) lane.readyBytes += p.size
      lane.readySince = -Infinity
      for (const p of list) ledger.retryInfo(p).notBefore = Infinity // until its schedule has decided
      return Effect.map(
        Effect.forEach(list, (p) => schedule.step(now, input, ledger.retryInfo(p).retryState)),
        (steps) => {
          const givenUp: Array<Pending<A>> = []
          const retried: Array<Pending<A>> = []
          // records that failed together are retried together: after the longest of their delays
          let notBefore = now
          for (let i = 0; i < list.length; i++) {
            const p = list[i]!
            const [state, , decision] = steps[i]!
            if (ScheduleDecision.isDone(decision)) {
              givenUp.push(p)
            } else {
              ledger.retryInfo(p).retryState = state
              retried.push(p)
              notBefore = Math.max(notBefore, Math.ceil(Intervals.start(decision.intervals)))
            }
          }
          for (const p of retried) ledger.retryInfo(p).notBefore = notBefore
          if (givenUp.length > 0) {
            const drop = new Set(givenUp)
            lane.ready.replace(lane.ready.waiting().filter((p) => !drop.has(p)))
            for (const p of givenUp) lane.readyBytes -= p.size
            ledger.fail(givenUp)
          }
        }
      )
    }).pipe(Effect.ensuring(Effect.sync(() => {
      lane.inFlight = false
      if (metricsOn) mRetries(list.length)
    })))

  /**
   * One PutRecords request and what its response means for each record. Everything but the call
   * and the retry schedules' steps (failures only) runs synchronously: a request costs few Effect
   * steps, since there is one per 500 records.
   */
  const send = (batch: ReadonlyArray<Taken<A>>, entries: Array<Pending<A>>) =>
    Effect.suspend(() => {
      const started = clock.unsafeCurrentTimeMillis()
      // registered until its answer is handled: a request interrupted at the shutdown deadline stays here,
      // and `failInFlight` fails its records (an `onInterrupt` per request measured ~10 % of the sink's time)
      const request: InFlight<A> = { batch, entries }
      inFlight.add(request)
      const call = Effect.either(kinesis.putRecords({ stream, records: entries }))
      // the request's span (when a tracer is installed): its Kinesis.PutRecords call is a child; the counts
      // are added once it is answered
      return Tracing.span(Tracing.SpanNames.produce, "producer", () =>
        requestAttributes(batch, entries), (traced) =>
        Effect.flatMap(call, (result) => {
          inFlight.delete(request)
          let throttledRecords = 0
          let failedRecords = 0
          const now = clock.unsafeCurrentTimeMillis()
          if (metricsOn) {
            mRequests(1)
            mBatch(entries.length)
            mLatency((now - started) / 1000)
          }
          // lanes with records to retry stay in flight until their schedules have decided
          const retrying: Array<Effect.Effect<void>> = []
          let refresh = false
          if (Either.isLeft(result)) {
            const error = result.left
            failedRecords = entries.length
            if (isThrottling(error)) {
              throttledRecords = entries.length
            }
            for (const { from, lane, to } of batch) {
              const list = entries.slice(from, to)
              for (const p of list) {
                const info = ledger.retryInfo(p)
                info.attempts++
                info.lastCode = error._tag
                info.lastMessage = error.message
              }
              if (isRetryable(error)) {
                retrying.push(retryLane(lane, list, { _tag: "RequestFailed", error }, now))
              } else {
                ledger.fail(list)
                lane.inFlight = false
              }
            }
          } else {
            const response = result.right
            let deliveredRecords = 0
            let deliveredKinesis = 0
            let deliveredBytes = 0
            let throttled = 0
            let unexpectedShard = false
            const results = response.records
            for (const { bytes, from, lane, to } of batch) {
              // The usual case, handled per lane rather than per record: every record went in, no
              // `send` waits for a delivery, no record carries retry state, and the shard is known.
              let allIn = ledger.sendsWaiting === 0 && ledger.retries.size === 0 && lane.shard !== undefined
              for (let index = from; allIn && index < to; index++) {
                const r = results[index]
                if (r === undefined || r._tag !== "Success") {
                  allIn = false
                }
              }
              if (allIn) {
                let count = to - from
                if (!direct) {
                  count = 0
                  for (let index = from; index < to; index++) {
                    count += countOf(entries[index]!)
                  }
                }
                deliveredRecords += count
                deliveredKinesis += to - from
                deliveredBytes += bytes
                ledger.outstandingRecords -= count
                ledger.outstandingBytes -= bytes
                const last = results[to - 1]
                if (last !== undefined && last._tag === "Success" && last.shardId !== lane.id) {
                  unexpectedShard = true
                }
                lane.inFlight = false
                continue
              }
              let lastShard: string | undefined
              let again: Array<Pending<A>> | undefined
              let hopeless: Array<Pending<A>> | undefined
              let codes: Array<string> | undefined
              for (let index = from; index < to; index++) {
                const p = entries[index]!
                const r = results[index]
                if (r !== undefined && r._tag === "Success") {
                  if (ledger.retries.size > 0) {
                    ledger.retries.delete(p)
                  }
                  ledger.resolve(p, r)
                  const count = countOf(p)
                  deliveredRecords += count
                  deliveredKinesis++
                  deliveredBytes += p.size
                  ledger.outstandingRecords -= count
                  ledger.outstandingBytes -= p.size
                  lastShard = r.shardId
                  if (lane.shard === undefined) {
                    router.seenShards.add(r.shardId)
                  }
                } else {
                  const info = ledger.retryInfo(p)
                  info.attempts++
                  info.lastCode = r === undefined ? "MissingResult" : r.errorCode
                  info.lastMessage = r === undefined
                    ? "PutRecords returned fewer results than records"
                    : r.errorMessage
                  if (
                    info.lastCode === "ProvisionedThroughputExceededException" ||
                    info.lastCode === "KMSThrottlingException"
                  ) {
                    throttled++
                  }
                  ;(codes ??= []).push(info.lastCode)
                  if (r === undefined || RETRYABLE_CODES.has(r.errorCode)) {
                    ;(again ??= []).push(p)
                  } else (hopeless ??= []).push(p)
                }
              }
              // the records of a lane in one request all land on its shard, unless the stream was resharded:
              // then the later ones (at least) land elsewhere, so the last one tells
              if (lane.shard !== undefined && lastShard !== undefined && lastShard !== lane.id) {
                unexpectedShard = true
              }
              failedRecords += (hopeless?.length ?? 0) + (again?.length ?? 0)
              if (hopeless !== undefined) {
                ledger.fail(hopeless)
              }
              if (again !== undefined) {
                retrying.push(retryLane(lane, again, { _tag: "RecordsFailed", errorCodes: codes ?? [] }, now))
              } else lane.inFlight = false
            }
            throttledRecords = throttled
            ledger.delivered += deliveredRecords
            if (metricsOn) {
              mRecords(deliveredRecords)
              mKinesisRecords(deliveredKinesis)
              mBytes(deliveredBytes)
              if (throttled > 0) {
                mThrottled(throttled)
              }
            }
            if (unexpectedShard && !refreshing) {
              refreshing = true
              refresh = true
            }
          }
          const done = () => {
            ledger.inFlightRequests--
            settled()
          }
          const annotated = traced
            ? Effect.annotateCurrentSpan({
              "effect_kinesis.throttled_records": throttledRecords,
              "effect_kinesis.failed_records": failedRecords
            })
            : Effect.void
          if (retrying.length === 0 && !refresh) {
            done()
            return annotated
          }
          return Effect.forEach(retrying, identity, { discard: true }).pipe(
            Effect.zipRight(refresh ? refreshMap : Effect.void),
            Effect.ensuring(Effect.sync(done)),
            Effect.zipRight(annotated)
          )
        }))
    })

  /** The attributes of a request's span: its records, bytes, shards, and the retry it is. */
  const requestAttributes = (batch: ReadonlyArray<Taken<A>>, entries: ReadonlyArray<Pending<A>>) => {
    let bytes = 0
    for (const taken of batch) bytes += taken.bytes
    let attempt = 0
    if (ledger.retries.size > 0) {
      for (const p of entries) attempt = Math.max(attempt, ledger.retries.get(p)?.attempts ?? 0)
    }
    return {
      ...Tracing.messaging(
        "send",
        stream.name,
        batch.length === 1 ? batch[0]!.lane.shard?.shardId : undefined,
        entries.length
      ),
      "effect_kinesis.bytes": bytes,
      "effect_kinesis.shards": batch.length,
      "effect_kinesis.retry_attempt": attempt
    }
  }

  /** Re-lists shards after a response revealed a shard the map does not know (a reshard). */
  const refreshMap: Effect.Effect<void> = Effect.suspend(() =>
    listShards.pipe(
      Effect.flatMap((shards) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            router.install(shards, now)
          }))
      ),
      Effect.catchAll((error) => Effect.logWarning("effect-kinesis producer: could not refresh the shard map", error)),
      Effect.ensuring(Effect.sync(() => {
        refreshing = false
        changed()
      })),
      Effect.forkIn(scope),
      Effect.asVoid
    )
  )

  return { send, refreshMap, failInFlight }
}
