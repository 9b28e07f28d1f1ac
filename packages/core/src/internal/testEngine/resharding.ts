/**
 * How does a stream's set of shards change? SplitShard, MergeShards and UpdateShardCount (uniform
 * scaling), through the `Kinesis` port (validated like AWS, applied when the UPDATING period ends) and
 * through the `KinesisTest` control service (applied at once, whatever the stream's state).
 *
 * State owned: none of its own; it closes and opens shards of a stream (`StreamState.closeShard`,
 * `addShard`, `reindex`: state.ts) and hands the change to streams.ts to run now or when UPDATING ends.
 * Called by: engine.ts (`splitShard`, `mergeShards`, `updateShardCount`, `controlSplit`,
 * `controlMerge`, `controlScale`).
 * Invariants: the open shards always cover the whole hash-key space without overlap; the lineage is a
 * tree of plain splits and merges (every child has one or two parents, recorded on both sides); the
 * routing table is rebuilt after every change.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Kinesis from "../../Kinesis.js"
import type { InvalidArgument, ResourceInUse, ResourceNotFound } from "../../KinesisError.js"
import type * as StreamAddress from "../../StreamAddress.js"
import { parseHashKey, uniformStart } from "../shardMap.js"
import { type CallContext, ko, ok, type Operation, type Result, rethrow } from "./calls.js"
import type { Errors } from "./errors.js"
import type { ShardState, StreamState } from "./state.js"
import { MAX_SHARDS_PER_STREAM, type Streams } from "./streams.js"

/** Closes `shard` and opens its two children [start, key − 1] and [key, end]. */
const split = (stream: StreamState, shard: ShardState, key: bigint, at: number): readonly [ShardState, ShardState] => {
  stream.closeShard(shard, at)
  const low = stream.addShard(shard.start, key - 1n, [shard.id], at)
  const high = stream.addShard(key, shard.end, [shard.id], at)
  shard.children.push(low, high)
  return [low, high]
}

/** Closes `a` and `b` and opens their child (ParentShardId `a`, AdjacentParentShardId `b`). */
const merge = (stream: StreamState, a: ShardState, b: ShardState, at: number): ShardState => {
  stream.closeShard(a, at)
  stream.closeShard(b, at)
  const start = a.start < b.start ? a.start : b.start
  const end = a.end > b.end ? a.end : b.end
  const child = stream.addShard(start, end, [a.id, b.id], at)
  a.children.push(child)
  b.children.push(child)
  return child
}

/**
 * UNIFORM_SCALING as a series of the primitive operations AWS performs: every open shard is split at
 * each target boundary inside it, then the pieces inside each target range are merged left to right.
 * Pieces that are split and merged at once appear as closed, empty shards, which keeps the lineage a
 * tree of plain splits and merges (every child has one or two parents).
 */
const scale = (stream: StreamState, target: number, at: number): void => {
  const bounds: Array<bigint> = []
  for (let i = 1; i < target; i++) bounds.push(uniformStart(i, target))
  // the open shards are sorted and contiguous, so one pass over the bounds serves them all
  const pieces: Array<ShardState> = []
  let b = 0
  for (const shard of [...stream.open]) {
    let current = shard
    while (b < bounds.length && bounds[b]! <= current.start) b++
    while (b < bounds.length && bounds[b]! <= current.end) {
      const [low, high] = split(stream, current, bounds[b]!, at)
      pieces.push(low)
      current = high
      b++
    }
    pieces.push(current)
  }
  // each piece now lies inside one target range: merge the pieces of each range, left to right
  let group: Array<ShardState> = []
  const flush = () => {
    let current = group[0]
    for (let i = 1; i < group.length; i++) current = merge(stream, current!, group[i]!, at)
    group = []
  }
  b = 0
  for (const piece of pieces) {
    let crossed = false
    while (b < bounds.length && bounds[b]! <= piece.start) {
      b++
      crossed = true
    }
    if (crossed && group.length > 0) flush()
    group.push(piece)
  }
  if (group.length > 0) flush()
  stream.reindex()
}

/** Resharding. @internal */
export class Resharding {
  constructor(private readonly streams: Streams, private readonly errors: Errors) {}

  /** A stream for a reshard through the port: ACTIVE (not being updated). */
  private reshardable(
    operation: Operation,
    address: StreamAddress.StreamAddress,
    now: number,
    ctx: CallContext
  ): Result<StreamState, ResourceNotFound | ResourceInUse> {
    const stream = this.streams.lookup(address, now)
    if (stream === undefined || stream.status === "DELETING") {
      return ko(this.errors.notFound(operation, ctx.label, address.name))
    }
    if (stream.status !== "ACTIVE") return ko(this.errors.notActive(operation, ctx.label, stream))
    return ok(stream)
  }

  private openShard(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shardId: string
  ): Result<ShardState, ResourceNotFound | InvalidArgument> {
    const shard = stream.byId.get(shardId)
    if (shard === undefined) return ko(this.errors.shardNotFound(operation, label, stream.name, shardId))
    if (!shard.isOpen) {
      return ko(this.errors.invalid(
        operation,
        label,
        `Shard ${shardId} in stream ${stream.name} under account ${this.errors.accountId} has already been ` +
          "merged or split, and thus is not eligible for merging or splitting."
      ))
    }
    return ok(shard)
  }

  /**
   * Validates a split: the shard is open (then noted in `ctx`, for the call log) and the new starting
   * hash key (by default the middle of its range) lies inside it. Returns the shard and the key.
   */
  private checkSplit(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shardId: string,
    newStartingHashKey: string | undefined,
    ctx: CallContext | undefined
  ): Result<readonly [ShardState, bigint], ResourceNotFound | InvalidArgument> {
    const found = this.openShard(operation, label, stream, shardId)
    if (Exit.isFailure(found)) return rethrow(found)
    const shard = found.value
    if (ctx !== undefined) ctx.shardId = shard.id
    const given = newStartingHashKey ?? ((shard.start + shard.end + 1n) / 2n).toString()
    const key = parseHashKey(given)
    if (Option.isNone(key) || !(key.value > shard.start + 1n && key.value < shard.end)) {
      return ko(this.errors.invalid(
        operation,
        label,
        `NewStartingHashKey ${given} used in SplitShard() on shard ${shard.id} in stream ${stream.name} ` +
          `under account ${this.errors.accountId} is not both greater than one plus the shard's StartingHashKey ` +
          `${shard.hashKeyRange.startingHashKey} and less than the shard's EndingHashKey ${shard.hashKeyRange.endingHashKey}.`
      ))
    }
    return ok([shard, key.value] as const)
  }

  private checkMerge(
    operation: string,
    label: string | undefined,
    stream: StreamState,
    shardId: string,
    adjacentShardId: string
  ): Result<readonly [ShardState, ShardState], ResourceNotFound | InvalidArgument> {
    const a = this.openShard(operation, label, stream, shardId)
    if (Exit.isFailure(a)) return rethrow(a)
    const b = this.openShard(operation, label, stream, adjacentShardId)
    if (Exit.isFailure(b)) return rethrow(b)
    const x = a.value
    const y = b.value
    if (x === y || (x.end + 1n !== y.start && y.end + 1n !== x.start)) {
      return ko(this.errors.invalid(
        operation,
        label,
        `Shards ${shardId} and ${adjacentShardId} in stream ${stream.name} under account ${this.errors.accountId} ` +
          "are not an adjacent pair of shards eligible for merging"
      ))
    }
    return ok([x, y] as const)
  }

  splitShard(request: Kinesis.SplitShardRequest, now: number, ctx: CallContext): Result<void, Kinesis.ReshardError> {
    const op = "splitShard"
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const checked = this.checkSplit(op, ctx.label, stream, request.shardToSplit, request.newStartingHashKey, ctx)
    if (Exit.isFailure(checked)) return rethrow(checked)
    const [shard, key] = checked.value
    this.streams.schedule(stream, now, (at) => {
      split(stream, shard, key, at)
      stream.reindex()
    })
    return ok(undefined)
  }

  mergeShards(request: Kinesis.MergeShardsRequest, now: number, ctx: CallContext): Result<void, Kinesis.ReshardError> {
    const op = "mergeShards"
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const pair = this.checkMerge(op, ctx.label, stream, request.shardToMerge, request.adjacentShardToMerge)
    if (Exit.isFailure(pair)) return rethrow(pair)
    ctx.shardId = pair.value[0].id
    this.streams.schedule(stream, now, (at) => {
      merge(stream, pair.value[0], pair.value[1], at)
      stream.reindex()
    })
    return ok(undefined)
  }

  updateShardCount(
    request: Kinesis.UpdateShardCountRequest,
    now: number,
    ctx: CallContext
  ): Result<Kinesis.UpdateShardCountResponse, Kinesis.ReshardError> {
    const op = "updateShardCount"
    const label = ctx.label
    const found = this.reshardable(op, request.stream, now, ctx)
    if (Exit.isFailure(found)) return rethrow(found)
    const stream = found.value
    const current = stream.open.length
    const target = request.targetShardCount
    if (stream.mode === "ON_DEMAND") {
      return ko(this.errors.invalid(op, label, "UpdateShardCount is not supported for an ON_DEMAND stream."))
    }
    if (!Number.isInteger(target) || target < 1) {
      return ko(this.errors.validation(
        op,
        label,
        target,
        "targetShardCount",
        "Member must have value greater than or equal to 1"
      ))
    }
    if (target > MAX_SHARDS_PER_STREAM) {
      return ko(
        this.errors.limitExceeded(
          op,
          label,
          `UpdateShardCount cannot scale a stream above ${MAX_SHARDS_PER_STREAM} shards.`
        )
      )
    }
    if (target > current * 2) {
      return ko(this.errors.invalid(
        op,
        label,
        "UpdateShardCount cannot scale up over double your current open shard count. " +
          `Current open shard count: ${current} Target shard count: ${target}`
      ))
    }
    if (target * 2 < current) {
      return ko(this.errors.invalid(
        op,
        label,
        "UpdateShardCount cannot scale down below half your current open shard count. " +
          `Current open shard count: ${current} Target shard count: ${target}`
      ))
    }
    this.streams.schedule(stream, now, (at) => scale(stream, target, at))
    return ok({ currentShardCount: current, targetShardCount: target })
  }

  /** `KinesisTest.splitShard`: splits at once (in the middle of the shard's range by default). */
  controlSplit(
    stream: StreamState,
    shardId: string,
    newStartingHashKey: string | undefined,
    now: number
  ): Result<ReadonlyArray<string>, ResourceNotFound | InvalidArgument> {
    this.streams.settle(stream, now)
    const op = "KinesisTest.splitShard"
    const checked = this.checkSplit(op, stream.name, stream, shardId, newStartingHashKey, undefined)
    if (Exit.isFailure(checked)) return rethrow(checked)
    const [low, high] = split(stream, checked.value[0], checked.value[1], now)
    stream.reindex()
    return ok([low.id, high.id])
  }

  /** `KinesisTest.mergeShards`: merges at once. */
  controlMerge(
    stream: StreamState,
    shardId: string,
    adjacentShardId: string,
    now: number
  ): Result<string, ResourceNotFound | InvalidArgument> {
    this.streams.settle(stream, now)
    const pair = this.checkMerge("KinesisTest.mergeShards", stream.name, stream, shardId, adjacentShardId)
    if (Exit.isFailure(pair)) return rethrow(pair)
    const child = merge(stream, pair.value[0], pair.value[1], now)
    stream.reindex()
    return ok(child.id)
  }

  /** `KinesisTest.updateShardCount`: scales uniformly at once, to any count up to the shard limit. */
  controlScale(stream: StreamState, target: number, now: number): Result<ReadonlyArray<string>, InvalidArgument> {
    if (!Number.isInteger(target) || target < 1 || target > MAX_SHARDS_PER_STREAM) {
      return ko(
        this.errors.invalid("KinesisTest.updateShardCount", stream.name, `Invalid target shard count ${target}.`)
      )
    }
    this.streams.settle(stream, now)
    scale(stream, target, now)
    return ok(stream.open.map((s) => s.id))
  }
}
