/**
 * Who consumes a stream by enhanced fan-out, and what does a subscription push? The registered stream
 * consumers (RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers,
 * DeregisterStreamConsumer) and SubscribeToShard's subscriptions, with AWS's limits: 20 consumers per
 * stream, one SubscribeToShard call per second per shard per consumer, one subscription at a time per
 * shard per consumer (`ResourceInUse` for a second), 2 MiB/s pushed per shard per consumer, and a
 * subscription that ends after 5 minutes.
 *
 * State owned: the consumers (by ARN), the time of the last SubscribeToShard per consumer and shard, and
 * the live subscriptions (each with its position, its end and its byte budget).
 * Called by: engine.ts, once per call, and service.ts for each step of a subscription (`next`): an event
 * when records are there (as many as the byte budget allows), the final event with the child shards at
 * the end of a closed shard, else a wait (service.ts waits for the shard's next record, its closing, or the
 * heartbeat, and then sends an event with no records).
 * Invariants: a subscription delivers each record once, in order, from its starting position; its
 * `continuationSequenceNumber` is the position it reached (resuming AFTER it loses and repeats nothing).
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import type * as Kinesis from "../../Kinesis.js"
import { LimitExceeded, ResourceInUse, ResourceNotFound } from "../../KinesisError.js"
import type * as KinesisTest from "../../KinesisTest.js"
import * as StreamAddress from "../../StreamAddress.js"
import { type CallContext, ko, ok, type Result, rethrow } from "./calls.js"
import { sequenceNumber } from "./codec.js"
import type { Errors } from "./errors.js"
import type { Limits } from "./limits.js"
import type { Reads } from "./reads.js"
import { Bucket, type ShardState, type StreamState } from "./state.js"
import type { Streams } from "./streams.js"

interface ConsumerState {
  readonly name: string
  readonly arn: string
  readonly stream: StreamState
  readonly createdAt: number
  /** CREATING until then. */
  readonly activeAt: number
  /** DELETING from deregistration until then (gone after). */
  deletedAt: number | undefined
}

/** One live subscription. @internal */
export interface Subscription {
  readonly key: string
  readonly consumer: ConsumerState
  readonly stream: StreamState
  readonly shard: ShardState
  /** The counter of the last record delivered (reading goes on above it). */
  position: number
  readonly expiresAt: number
  /** The shard's end was delivered: nothing more comes. */
  ended: boolean
  closed: boolean
  readonly bytes: Bucket
}

/** A step of a subscription: an event, nothing to send before `until` (ms), or the end. @internal */
export type Step =
  | { readonly _tag: "Event"; readonly event: Kinesis.SubscribeToShardEvent }
  | { readonly _tag: "Wait"; readonly until: number }
  | { readonly _tag: "End" }

const END: Step = { _tag: "End" }

/** Records one event holds at most. */
const MAX_RECORDS_PER_EVENT = 10_000

/** @internal */
export class FanOut {
  private readonly consumers = new Map<string, ConsumerState>()
  private readonly lastSubscribe = new Map<string, number>()
  private readonly live = new Map<string, Subscription>()

  constructor(
    private readonly streams: Streams,
    private readonly reads: Reads,
    private readonly limits: Limits,
    private readonly errors: Errors,
    private readonly options: { readonly consumerMs: number; readonly subscriptionMs: number }
  ) {}

  private streamOf(op: string, streamARN: string, now: number): Result<StreamState, ResourceNotFound> {
    const address = StreamAddress.make(streamARN)
    const stream = address._tag === "Right" && address.right._tag === "StreamArn"
      ? this.streams.lookup(address.right, now)
      : undefined
    if (stream === undefined) {
      return ko(new ResourceNotFound({ operation: op, stream: streamARN, message: `Stream ${streamARN} not found.` }))
    }
    return ok(stream)
  }

  /** The consumers of `stream` that still exist at `now` (the deleted ones are forgotten). */
  private consumersOf(stream: StreamState, now: number): Array<ConsumerState> {
    const out: Array<ConsumerState> = []
    for (const consumer of this.consumers.values()) {
      if (consumer.deletedAt !== undefined && consumer.deletedAt <= now) {
        this.consumers.delete(consumer.arn)
        continue
      }
      if (consumer.stream === stream) out.push(consumer)
    }
    return out
  }

  private view(consumer: ConsumerState, now: number): Kinesis.StreamConsumer {
    return {
      consumerName: consumer.name,
      consumerARN: consumer.arn,
      consumerStatus: consumer.deletedAt !== undefined ? "DELETING" : now < consumer.activeAt ? "CREATING" : "ACTIVE",
      consumerCreationTimestamp: new Date(consumer.createdAt),
      streamARN: consumer.stream.arn
    }
  }

  private find(
    op: string,
    address: Kinesis.StreamConsumerAddress,
    now: number
  ): Result<ConsumerState, ResourceNotFound> {
    let found: ConsumerState | undefined
    if ("consumerARN" in address) {
      found = this.consumers.get(address.consumerARN)
    } else {
      const stream = this.streamOf(op, address.streamARN, now)
      if (Exit.isFailure(stream)) return rethrow(stream)
      found = this.consumersOf(stream.value, now).find((c) => c.name === address.consumerName)
    }
    if (found !== undefined && found.deletedAt !== undefined && found.deletedAt <= now) {
      this.consumers.delete(found.arn)
      found = undefined
    }
    // a consumer of a stream deleted (or re-created) since is gone with it
    if (
      found !== undefined && this.streams.byIncarnation(found.stream.name, found.stream.incarnation, now) === undefined
    ) {
      this.consumers.delete(found.arn)
      found = undefined
    }
    if (found === undefined) {
      const name = "consumerARN" in address ? address.consumerARN : address.consumerName
      return ko(new ResourceNotFound({ operation: op, stream: undefined, message: `Consumer ${name} not found.` }))
    }
    return ok(found)
  }

  register(
    request: Kinesis.RegisterStreamConsumerRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.StreamConsumer, Kinesis.StreamConsumerError> {
    const op = "registerStreamConsumer"
    if (
      request.consumerName.length < 1 || request.consumerName.length > 128 ||
      !/^[a-zA-Z0-9_.-]+$/.test(request.consumerName)
    ) {
      return ko(
        this.errors.validation(
          op,
          ctx.label,
          request.consumerName,
          "consumerName",
          "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
      )
    }
    const stream = this.streamOf(op, request.streamARN, now)
    if (Exit.isFailure(stream)) return rethrow(stream)
    const existing = this.consumersOf(stream.value, now)
    if (existing.some((c) => c.name === request.consumerName)) {
      return ko(
        new ResourceInUse({
          operation: op,
          stream: ctx.label,
          message: `Consumer ${request.consumerName} under stream ${stream.value.name} already exists.`
        })
      )
    }
    const max = this.limits.values.maxConsumersPerStream
    if (existing.length >= max) {
      return ko(
        new LimitExceeded({
          operation: op,
          stream: ctx.label,
          message: `Stream ${stream.value.name} has ${existing.length} consumers, the maximum (${max}).`
        })
      )
    }
    const consumer: ConsumerState = {
      name: request.consumerName,
      arn: `${stream.value.arn}/consumer/${request.consumerName}:${Math.floor(now / 1000)}`,
      stream: stream.value,
      createdAt: now,
      activeAt: now + this.options.consumerMs,
      deletedAt: undefined
    }
    this.consumers.set(consumer.arn, consumer)
    return ok({ ...this.view(consumer, now), consumerStatus: "CREATING" })
  }

  describe(
    address: Kinesis.StreamConsumerAddress,
    now: number
  ): Result<Kinesis.StreamConsumer, Kinesis.StreamConsumerError> {
    const found = this.find("describeStreamConsumer", address, now)
    return Exit.isFailure(found) ? rethrow(found) : ok(this.view(found.value, now))
  }

  list(streamARN: string, now: number): Result<ReadonlyArray<Kinesis.StreamConsumer>, Kinesis.StreamConsumerError> {
    const stream = this.streamOf("listStreamConsumers", streamARN, now)
    if (Exit.isFailure(stream)) return rethrow(stream)
    return ok(this.consumersOf(stream.value, now).map((c) => this.view(c, now)))
  }

  deregister(address: Kinesis.StreamConsumerAddress, now: number): Result<void, Kinesis.StreamConsumerError> {
    const found = this.find("deregisterStreamConsumer", address, now)
    if (Exit.isFailure(found)) return rethrow(found)
    const consumer = found.value
    if (consumer.deletedAt === undefined) consumer.deletedAt = now + this.options.consumerMs
    // its subscriptions end at their next step
    if (consumer.deletedAt <= now) this.consumers.delete(consumer.arn)
    for (const sub of this.live.values()) if (sub.consumer === consumer) sub.shard.notify()
    return ok(undefined)
  }

  subscribe(
    request: Kinesis.SubscribeToShardRequest,
    now: number,
    ctx: CallContext
  ): Result<Subscription, Kinesis.SubscribeToShardError> {
    const op = "subscribeToShard"
    const found = this.find(op, { consumerARN: request.consumerARN }, now)
    if (Exit.isFailure(found)) return rethrow(found)
    const consumer = found.value
    if (consumer.deletedAt !== undefined || now < consumer.activeAt) {
      return ko(
        new ResourceInUse({
          operation: op,
          stream: ctx.label,
          message: `Consumer ${consumer.arn} is not ACTIVE.`
        })
      )
    }
    const stream = this.streams.byIncarnation(consumer.stream.name, consumer.stream.incarnation, now)
    if (stream === undefined || !(stream.status === "ACTIVE" || stream.status === "UPDATING")) {
      return ko(this.errors.notFound(op, ctx.label, consumer.stream.name))
    }
    const shard = stream.byId.get(request.shardId)
    if (shard === undefined) return ko(this.errors.shardNotFound(op, ctx.label, stream.name, request.shardId))
    ctx.shardId = shard.id
    const key = `${consumer.arn} ${shard.id}`
    const rate = this.limits.values.subscribeToShardCallsPerSecond
    const last = this.lastSubscribe.get(key)
    if (rate !== Number.POSITIVE_INFINITY && last !== undefined && now - last < 1000 / rate) {
      return ko(
        new LimitExceeded({
          operation: op,
          stream: ctx.label,
          message:
            `Rate exceeded for consumer ${consumer.arn} and shard ${shard.id}: SubscribeToShard at most ${rate} per second.`
        })
      )
    }
    this.lastSubscribe.set(key, now)
    if (this.live.has(key)) {
      return ko(
        new ResourceInUse({
          operation: op,
          stream: ctx.label,
          message: `Another active subscription exists for consumer ${consumer.arn} and shard ${shard.id}.`
        })
      )
    }
    shard.trim(now - stream.retentionMs)
    const position = this.reads.positionOf(op, ctx.label, stream, shard, request.position)
    if (Exit.isFailure(position)) return rethrow(position)
    const sub: Subscription = {
      key,
      consumer,
      stream,
      shard,
      position: position.value,
      expiresAt: now + this.options.subscriptionMs,
      ended: false,
      closed: false,
      bytes: new Bucket(this.limits.values.fanOutBytesPerSecond, now)
    }
    this.live.set(key, sub)
    return ok(sub)
  }

  /** The subscriptions open at `now` (`KinesisTest.subscriptions`). */
  open(now: number): ReadonlyArray<KinesisTest.SubscriptionInfo> {
    const out: Array<KinesisTest.SubscriptionInfo> = []
    for (const sub of this.live.values()) {
      if (sub.ended || now >= sub.expiresAt) continue
      out.push({
        consumerARN: sub.consumer.arn,
        shardId: sub.shard.id,
        openedAt: sub.expiresAt - this.options.subscriptionMs,
        expiresAt: sub.expiresAt
      })
    }
    return out
  }

  /** The subscription ended (its stream was closed or interrupted). */
  close(sub: Subscription): void {
    sub.closed = true
    if (this.live.get(sub.key) === sub) this.live.delete(sub.key)
  }

  /** The next step of a subscription at `now`. */
  next(sub: Subscription, now: number): Step {
    const { shard, stream } = sub
    if (sub.ended || sub.closed || now >= sub.expiresAt) return END
    const consumer = sub.consumer
    if (
      consumer.deletedAt !== undefined || this.streams.byIncarnation(stream.name, stream.incarnation, now) === undefined
    ) {
      return END
    }
    shard.trim(now - stream.retentionMs)
    const start = shard.indexAfter(sub.position)
    const length = shard.counters.length
    if (start < length) {
      const rate = this.limits.values.fanOutBytesPerSecond
      const limited = rate !== Number.POSITIVE_INFINITY
      if (limited) {
        sub.bytes.refill(rate, now)
        if (sub.bytes.tokens <= 0) {
          return { _tag: "Wait", until: now + Math.ceil((-sub.bytes.tokens * 1000) / rate) + 1 }
        }
      }
      const budget = limited ? sub.bytes.tokens : Number.POSITIVE_INFINITY
      let end = start
      let bytes = 0
      const last = Math.min(length, start + MAX_RECORDS_PER_EVENT)
      while (end < last) {
        const size = shard.sizes[end]!
        if (end > start && bytes + size > budget) break
        bytes += size
        end++
      }
      if (limited) sub.bytes.tokens -= bytes
      const records = shard.records.slice(start, end)
      sub.position = shard.counters[end - 1]!
      return {
        _tag: "Event",
        event: {
          records,
          continuationSequenceNumber: records[records.length - 1]!.sequenceNumber,
          millisBehindLatest: end < length ? Math.max(0, Math.floor(now - shard.arrivals[end - 1]!)) : 0,
          childShards: undefined
        }
      }
    }
    if (!shard.isOpen) {
      // the shard's end: the last event names the children, with no continuation
      sub.ended = true
      return {
        _tag: "Event",
        event: {
          records: [],
          continuationSequenceNumber: undefined,
          millisBehindLatest: 0,
          childShards: shard.children.map((child): Kinesis.ChildShard => ({
            shardId: child.id,
            parentShards: child.parents,
            hashKeyRange: child.hashKeyRange
          }))
        }
      }
    }
    return { _tag: "Wait", until: sub.expiresAt }
  }

  /** An event with no records: the position reached (sent when the subscription waited a heartbeat). */
  heartbeat(sub: Subscription): Kinesis.SubscribeToShardEvent {
    return {
      records: [],
      continuationSequenceNumber: sequenceNumber(sub.position, sub.shard.index, sub.stream.incarnation),
      millisBehindLatest: 0,
      childShards: undefined
    }
  }
}
