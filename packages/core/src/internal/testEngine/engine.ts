/**
 * What can be done to the in-memory Kinesis? The engine's one entry point: a thin facade that builds
 * the parts and hands each operation to the part that answers it.
 *
 * - streams.ts — which streams exist and in which state (CreateStream, DeleteStream, life cycle);
 * - writes.ts — PutRecords / PutRecord (validation, faults, write limits, storing);
 * - reads.ts — GetShardIterator / GetRecords (iterators, read limits);
 * - listing.ts — ListShards, ListStreams, DescribeStreamSummary, and the control service's inspection;
 * - resharding.ts — SplitShard, MergeShards, UpdateShardCount (port and control service);
 * - fanOut.ts — enhanced fan-out: the registered consumers and SubscribeToShard's subscriptions;
 * - limits.ts, faults.ts, errors.ts, calls.ts — the limits in force, the faults in force, the errors
 *   with AWS's messages, and the call context and log shared by all.
 *
 * State owned: the parts (each owns its own state), the faults and the call log (read by service.ts).
 * Called by: service.ts, which runs every operation at one `now` (Clock milliseconds) with its
 * `CallContext`, and builds the engine from `KinesisTest.Options`.
 * Invariants: every operation is synchronous and returns an `Exit`; the parts share one `Streams`,
 * one `Limits`, one `Faults` and one `Errors`, and the PRNG seeded from the options.
 *
 * @internal
 */
import type * as Kinesis from "../../Kinesis.js"
import type * as KinesisTest from "../../KinesisTest.js"
import type * as StreamAddress from "../../StreamAddress.js"
import { type CallContext, CallLog } from "./calls.js"
import type { Iterator } from "./codec.js"
import { Errors } from "./errors.js"
import { FanOut, type Subscription } from "./fanOut.js"
import { Faults } from "./faults.js"
import { Limits, type ResolvedLimits } from "./limits.js"
import { Listing, type ListShardsPageRequest } from "./listing.js"
import { mulberry32 } from "./prng.js"
import { Reads } from "./reads.js"
import { Resharding } from "./resharding.js"
import type { StreamState } from "./state.js"
import { type StreamOptions, Streams } from "./streams.js"
import { Writes } from "./writes.js"

/** @internal */
export interface ResolvedOptions extends StreamOptions {
  readonly seed: number
  readonly accountId: string
  readonly listShardsPageSize: number
  readonly callLogSize: number
  readonly consumerMs: number
  readonly subscriptionMs: number
}

/**
 * The engine's state and its operations. Every operation is synchronous: it runs at one `now` (Clock
 * milliseconds) and returns an `Exit`.
 *
 * @internal
 */
export class Engine {
  readonly faults = new Faults()
  readonly log: CallLog
  private readonly limits: Limits
  private readonly streams: Streams
  private readonly writes: Writes
  private readonly reads: Reads
  private readonly listing: Listing
  private readonly resharding: Resharding
  private readonly fanOut: FanOut

  constructor(readonly options: ResolvedOptions, limits: ResolvedLimits) {
    const errors = new Errors(options.accountId)
    this.log = new CallLog(options.callLogSize)
    this.limits = new Limits(limits)
    this.streams = new Streams(options, errors)
    this.writes = new Writes(this.streams, this.limits, this.faults, errors, mulberry32(options.seed))
    this.reads = new Reads(this.streams, this.limits, errors)
    this.listing = new Listing(this.streams, errors, options.listShardsPageSize)
    this.resharding = new Resharding(this.streams, errors)
    this.fanOut = new FanOut(this.streams, this.reads, this.limits, errors, options)
  }

  /** `KinesisTest.setLimits`. */
  setLimits(input: Partial<KinesisTest.Limits> | false): void {
    this.limits.set(input)
  }

  /** Creates a stream with `shards` uniform shards (the streams of `KinesisTest.Options`). */
  addStream(name: string, options: Parameters<Streams["add"]>[1], now: number): StreamState {
    return this.streams.add(name, options, now)
  }

  // data plane

  putRecords(request: Kinesis.PutRecordsRequest, now: number, ctx: CallContext) {
    return this.writes.put("putRecords", request, now, ctx)
  }

  putRecord(request: Kinesis.PutRecordRequest, now: number, ctx: CallContext) {
    return this.writes.putRecord(request, now, ctx)
  }

  getShardIterator(request: Kinesis.GetShardIteratorRequest, now: number, ctx: CallContext) {
    return this.reads.getShardIterator(request, now, ctx)
  }

  getRecords(request: Kinesis.GetRecordsRequest, iterator: Iterator | undefined, now: number, ctx: CallContext) {
    return this.reads.getRecords(request, iterator, now, ctx)
  }

  // enhanced fan-out

  registerStreamConsumer(request: Kinesis.RegisterStreamConsumerRequest, now: number, ctx: CallContext) {
    return this.fanOut.register(request, now, ctx)
  }

  describeStreamConsumer(consumer: Kinesis.StreamConsumerAddress, now: number) {
    return this.fanOut.describe(consumer, now)
  }

  listStreamConsumers(streamARN: string, now: number) {
    return this.fanOut.list(streamARN, now)
  }

  deregisterStreamConsumer(consumer: Kinesis.StreamConsumerAddress, now: number) {
    return this.fanOut.deregister(consumer, now)
  }

  subscribeToShard(request: Kinesis.SubscribeToShardRequest, now: number, ctx: CallContext) {
    return this.fanOut.subscribe(request, now, ctx)
  }

  nextEvent(sub: Subscription, now: number) {
    return this.fanOut.next(sub, now)
  }

  heartbeat(sub: Subscription) {
    return this.fanOut.heartbeat(sub)
  }

  unsubscribe(sub: Subscription) {
    this.fanOut.close(sub)
  }

  openSubscriptions(now: number) {
    return this.fanOut.open(now)
  }

  // listing and description

  listShardsPage(request: ListShardsPageRequest, now: number, ctx: CallContext) {
    return this.listing.listShardsPage(request, now, ctx)
  }

  describeStreamSummary(address: StreamAddress.StreamAddress, now: number, ctx: CallContext) {
    return this.listing.describeStreamSummary(address, now, ctx)
  }

  listStreams(now: number, ctx: CallContext) {
    return this.listing.listStreams(now, ctx)
  }

  // control plane

  createStream(request: Kinesis.CreateStreamRequest, now: number, ctx: CallContext) {
    return this.streams.createStream(request, now, ctx)
  }

  deleteStream(request: Kinesis.DeleteStreamRequest, now: number, ctx: CallContext) {
    return this.streams.deleteStream(request, now, ctx)
  }

  splitShard(request: Kinesis.SplitShardRequest, now: number, ctx: CallContext) {
    return this.resharding.splitShard(request, now, ctx)
  }

  mergeShards(request: Kinesis.MergeShardsRequest, now: number, ctx: CallContext) {
    return this.resharding.mergeShards(request, now, ctx)
  }

  updateShardCount(request: Kinesis.UpdateShardCountRequest, now: number, ctx: CallContext) {
    return this.resharding.updateShardCount(request, now, ctx)
  }

  // the control service

  /** A stream for the control service, by name or address. */
  controlStream(operation: string, input: StreamAddress.StreamAddress | string, now: number) {
    return this.streams.controlStream(operation, input, now)
  }

  controlSplit(stream: StreamState, shardId: string, newStartingHashKey: string | undefined, now: number) {
    return this.resharding.controlSplit(stream, shardId, newStartingHashKey, now)
  }

  controlMerge(stream: StreamState, shardId: string, adjacentShardId: string, now: number) {
    return this.resharding.controlMerge(stream, shardId, adjacentShardId, now)
  }

  controlScale(stream: StreamState, target: number, now: number) {
    return this.resharding.controlScale(stream, target, now)
  }

  storedRecords(stream: StreamState, shardId: string | undefined, now: number) {
    return this.listing.storedRecords(stream, shardId, now)
  }

  shardInfo(stream: StreamState, now: number) {
    return this.listing.shardInfo(stream, now)
  }
}
