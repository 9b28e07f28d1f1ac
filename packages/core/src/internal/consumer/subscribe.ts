/**
 * The shard reader in enhanced fan-out mode: one fiber per held shard that reads it through
 * SubscribeToShard into the buffer, in place of GetRecords polling (fetch.ts, which hands this module
 * its batching, its retries and its shard's end). Each subscription starts where the last one stopped
 * (`AFTER_SEQUENCE_NUMBER` of the last record delivered, or of the last `continuationSequenceNumber` before
 * any record), so the renewals AWS forces every 5 minutes lose and repeat nothing.
 *
 * Owns, per running reader, the subscription's position and the time of its last SubscribeToShard call;
 * writes the `Reader`'s `lastFetched`, `lastArrival` and `millisBehindLatest` (through the same batching
 * as polling: `emitted`).
 *
 * Invariants: at most one SubscribeToShard per second per shard (AWS's limit per consumer), a second
 * subscription refused (`ResourceInUse`: the previous owner's is still open) is asked for again after
 * that second; no event is taken from the subscription while the buffer is full (back-pressure reaches
 * the connection); a subscription that sends nothing for `watchdog` is dropped and renewed; the final
 * event (no continuation, the child shards) ends the shard exactly as a GetRecords with no next
 * iterator does.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import { isRetryable, ResourceInUse, type ServiceError } from "../../KinesisError.js"
import type * as StreamAddress from "../../StreamAddress.js"
import * as Tracing from "../tracing.js"
import type { FetchContext } from "./fetch.js"
import { LATEST_SKEW_MARGIN } from "./position.js"
import type { Reader } from "./shard.js"

/** AWS allows one SubscribeToShard per second per shard per consumer. */
const SUBSCRIBE_SPACING_MS = 1_000

/** The consumer's fan-out settings, resolved (the registered consumer's ARN). @internal */
export interface FanOutTarget {
  readonly consumerARN: string
  readonly consumerName: string
  /** ms without any event after which a subscription is renewed. */
  readonly watchdog: number
}

/** What a subscription session ended with. */
type SessionEnd = "renew" | "shard-end"

/** The parts of the polling reader this one shares (fetch.ts). @internal */
export interface SharedParts<A, E> {
  readonly retrying: <X, Err extends ServiceError>(
    reader: Reader<A, E>,
    effect: Effect.Effect<X, Err>
  ) => Effect.Effect<X, Err>
  readonly positionFor: (reader: Reader<A, E>, from: Checkpointer.Checkpoint | undefined) => Kinesis.StartingPosition
  readonly emitResponse: (
    reader: Reader<A, E>,
    records: ReadonlyArray<Kinesis.KinesisRecord>,
    skipThrough: Checkpointer.Checkpoint | undefined
  ) => Effect.Effect<void>
}

/** The run of one shard by subscription; ends when the shard was read to its end (or the reader stopped). @internal */
export const makeSubscribedRun = <A, E>(ctx: FetchContext<A, E>, target: FanOutTarget, parts: SharedParts<A, E>) =>
(
  reader: Reader<A, E>,
  start: Checkpointer.ShardState
): Effect.Effect<"shard-end" | "stopped", ServiceError> =>
  Effect.gen(function*() {
    const shardId = reader.shard.shardId
    const resumeFrom = start.checkpoint
    const latestAt = (yield* Clock.currentTimeMillis) - LATEST_SKEW_MARGIN
    let position = parts.positionFor(reader, resumeFrom)
    let skipThrough = resumeFrom?.subSequenceNumber === undefined ? undefined : resumeFrom
    let lastCall = Number.NEGATIVE_INFINITY
    let events = 0

    /** Takes one event into the buffer and moves the position; whether it was the shard's last. */
    const take = (event: Kinesis.SubscribeToShardEvent): Effect.Effect<boolean> => {
      events++
      const count = event.records.length
      const moved = () => {
        if (count > 0) {
          const last = event.records[count - 1]!
          skipThrough = undefined
          reader.lastFetched = { sequenceNumber: last.sequenceNumber }
          reader.lastArrival = last.approximateArrivalTimestamp.getTime()
        }
        reader.millisBehindLatest = event.millisBehindLatest
        if (reader.meters !== undefined) reader.meters.behind(event.millisBehindLatest / 1000)
        const continuation = event.continuationSequenceNumber
        if (continuation === undefined) return true
        // the next subscription starts right after the last record delivered (exact whatever the continuation
        // stands for); before any record, after the continuation (the position reached on an empty shard)
        if (count > 0) {
          position = { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: event.records[count - 1]!.sequenceNumber }
        } else if (reader.lastFetched === undefined) {
          position = { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: continuation }
        }
        return false
      }
      // (no generator per event: this runs for every event of every subscription)
      return count > 0
        ? Effect.map(parts.emitResponse(reader, event.records, skipThrough), moved)
        : Effect.sync(moved)
    }

    /**
     * A closed shard whose subscription is caught up, yet with no final event (kinesis-local never sends
     * it): one GetRecords from the position says whether the shard was read to its end (no next
     * iterator). Records it finds are delivered, and the subscription is renewed after them (the one
     * open would send them again).
     */
    const confirmEnd: Effect.Effect<SessionEnd | undefined, ServiceError> = Effect.gen(function*() {
      const iterator = yield* parts.retrying(
        reader,
        ctx.kinesis.getShardIterator({ stream: ctx.address, shardId, position })
      )
      const response = yield* parts.retrying(
        reader,
        ctx.kinesis.getRecords({
          shardIterator: iterator,
          stream: ctx.address._tag === "StreamArn" ? ctx.address : undefined
        })
      )
      if (response.records.length > 0) {
        yield* take({
          records: response.records,
          continuationSequenceNumber: response.records[response.records.length - 1]!.sequenceNumber,
          millisBehindLatest: response.millisBehindLatest ?? 0,
          childShards: undefined
        })
        return "renew" as const
      }
      return response.nextShardIterator === undefined ? "shard-end" as const : undefined
    })

    /** One subscription: from `position` until AWS ends it, the watchdog drops it, or the shard ends. */
    const session: Effect.Effect<SessionEnd, ServiceError> = Effect.gen(function*() {
      const clock = yield* Effect.clock
      const wait = lastCall + SUBSCRIBE_SPACING_MS - clock.unsafeCurrentTimeMillis()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      lastCall = clock.unsafeCurrentTimeMillis()
      const from = position
      // a LATEST subscription renewed before any event: from the instant it was asked for (nothing lost)
      if (position.type === "LATEST") position = { type: "AT_TIMESTAMP", timestamp: new Date(latestAt) }
      /** When the wait for the next event began (undefined: not waiting on the subscription). */
      let waitingSince: number | undefined
      let end: SessionEnd = "renew"
      /** One event: taken into the buffer; whether to go on (the next is not taken before there is room). */
      const onEvent = (event: Kinesis.SubscribeToShardEvent): Effect.Effect<boolean, ServiceError> => {
        waitingSince = undefined
        return Effect.flatMap(take(event), (last): Effect.Effect<boolean, ServiceError> => {
          if (last) {
            end = "shard-end"
            return Effect.succeed(false)
          }
          const goOn = Effect.zipRight(ctx.readSucceeded(reader), nextWhenRoom)
          if (event.records.length > 0 || event.millisBehindLatest > 0 || !ctx.isClosed(shardId)) return goOn
          // caught up on a closed shard: ended, or records the subscription did not send (kinesis-local)
          return Effect.flatMap(confirmEnd, (confirmed) => {
            if (confirmed === undefined) return goOn
            end = confirmed
            return Effect.succeed(false)
          })
        })
      }
      // nothing is taken from the subscription while the buffer is full (and that silence is ours)
      const nextWhenRoom: Effect.Effect<boolean> = Effect.map(reader.buffer.awaitRoom, () => {
        if (reader.stopped) return false
        waitingSince = clock.unsafeCurrentTimeMillis()
        return true
      })
      const eventLoop: Effect.Effect<SessionEnd, ServiceError> = Effect.flatMap(nextWhenRoom, (go) =>
        go
          ? ctx.kinesis.subscribeToShard({ consumerARN: target.consumerARN, shardId, position: from }).pipe(
            Stream.runForEachWhile(onEvent),
            // the service ended the subscription (its 5 minutes): renewed from where it stopped
            Effect.map(() => end)
          )
          : Effect.succeed("renew" as const))
      // one watchdog per subscription (not a timer per event): silent for `watchdog` while waited on, renewed
      const watchdog: Effect.Effect<SessionEnd> = Effect.gen(function*() {
        for (;;) {
          const silent = waitingSince === undefined ? 0 : clock.unsafeCurrentTimeMillis() - waitingSince
          if (silent >= target.watchdog) return "renew" as const
          // (not waited on: looked at again in half a watchdog, so silence is seen at most 1.5 watchdogs late)
          yield* Effect.sleep(
            Duration.millis(waitingSince === undefined ? target.watchdog / 2 : target.watchdog - silent)
          )
        }
      })
      return yield* Effect.raceFirst(eventLoop, watchdog)
    })

    /** A session in its span (when a tracer is installed): the shard, the events it brought, how it ended. */
    const tracedSession = Tracing.span(
      Tracing.SpanNames.subscribe,
      "client",
      () => ({
        ...Tracing.messaging("receive", ctx.address.name, shardId, 0),
        "aws.kinesis.consumer_arn": target.consumerARN
      }),
      (traced) => {
        if (!traced) return session
        const before = events
        return Effect.tap(session, (end) =>
          Effect.annotateCurrentSpan({ "effect_kinesis.events": events - before, "effect_kinesis.session_end": end }))
      }
    )

    while (!reader.stopped) {
      const before = events
      const end = yield* parts.retrying(
        reader,
        tracedSession.pipe(
          // the previous owner's subscription is still open (a lease just moved), or one per second was
          // exceeded: asked for again after the spacing
          Effect.catchTag("ResourceInUse", () =>
            Effect.succeed("renew" as const))
        )
      )
      if (end === "shard-end") {
        return "shard-end" as const
      }
      if (events === before) {
        yield* Effect.logDebug(`effect-kinesis consumer: subscription to ${shardId} renewed with no event`)
      }
    }
    return "stopped" as const
  })

/** Describe calls while a consumer is CREATING (one a second: AWS takes seconds) before giving up. */
const ACTIVATION_TRIES = 300

/**
 * The registered consumer `consumerName` of the stream: found, or registered (by this worker or, in a
 * race, by another), then waited for until ACTIVE. Retryable errors (DescribeStreamConsumer allows 20
 * calls per second per stream, shared by the whole group) are retried with `schedule`. @internal
 */
export const registerConsumer = (
  kinesis: Kinesis.Service,
  address: StreamAddress.StreamAddress,
  options: { readonly consumerName: string; readonly watchdog?: Duration.DurationInput | undefined },
  schedule: Schedule.Schedule<unknown, ServiceError>,
  watchdog: Duration.DurationInput
): Effect.Effect<FanOutTarget, ServiceError> =>
  Effect.gen(function*() {
    const retried = <X, Err extends ServiceError>(effect: Effect.Effect<X, Err>) =>
      Effect.retry(effect, { schedule, while: (error: ServiceError) => isRetryable(error) })
    const streamARN = address._tag === "StreamArn"
      ? address.arn
      : (yield* retried(kinesis.describeStreamSummary(address))).streamARN
    const consumerName = options.consumerName
    const describe = retried(kinesis.describeStreamConsumer({ streamARN, consumerName }))
    const findOrRegister = describe.pipe(
      Effect.catchTag("ResourceNotFound", () =>
        retried(kinesis.registerStreamConsumer({ streamARN, consumerName })).pipe(
          // registered meanwhile by another worker of the group
          Effect.catchTag("ResourceInUse", () => describe)
        ))
    )
    let consumer = yield* findOrRegister
    for (let i = 0; consumer.consumerStatus !== "ACTIVE"; i++) {
      if (i >= ACTIVATION_TRIES) {
        return yield* new ResourceInUse({
          operation: "describeStreamConsumer",
          stream: streamARN,
          message: `stream consumer ${consumerName} is still ${consumer.consumerStatus} after ${ACTIVATION_TRIES} s`
        })
      }
      yield* Effect.sleep(Duration.seconds(1))
      // (one being deleted is registered again once it is gone)
      consumer = yield* findOrRegister
    }
    return {
      consumerARN: consumer.consumerARN,
      consumerName,
      watchdog: Duration.toMillis(Duration.decode(options.watchdog ?? watchdog))
    }
  })
