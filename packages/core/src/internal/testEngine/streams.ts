/**
 * Which streams exist, and in which state? The registry of streams by name, and their life cycle:
 * CreateStream / DeleteStream, the CREATING / UPDATING / DELETING periods and what happens when they
 * end (a pending reshard is applied, a deleted stream goes), and the expiry of closed shards.
 *
 * State owned: the streams by name, and the incarnation counter (each stream created gets a new one,
 * so an iterator, page token or sequence number of a deleted stream never serves a new one of the
 * same name). A stream's shards and records are its own (`StreamState`, state.ts).
 * Called by: engine.ts (create / delete, streams given at construction, the control service's
 * lookups) and the other parts — writes.ts, reads.ts, listing.ts, resharding.ts — which find their
 * stream here (`lookup`, `dataStream`, `byIncarnation`), and resharding.ts (`schedule`, `settle`).
 * Invariants: every stream handed out has been brought up to `now` first (`advance`); a stream whose
 * DELETING period is over is gone from the map.
 *
 * @internal
 */
import * as Either from "effect/Either"
import type * as Kinesis from "../../Kinesis.js"
import type { ResourceNotFound } from "../../KinesisError.js"
import * as StreamAddress from "../../StreamAddress.js"
import { uniformRangesBigInt } from "../shardMap.js"
import { type CallContext, ko, ok, type Result } from "./calls.js"
import type { Errors } from "./errors.js"
import { StreamState } from "./state.js"

/** What the life cycle needs of the engine's options. @internal */
export interface StreamOptions {
  readonly region: string
  readonly retentionMs: number
  readonly createMs: number
  readonly updateMs: number
  readonly deleteMs: number
}

/** @internal */
export const MAX_SHARDS_PER_STREAM = 10_000
const ON_DEMAND_SHARDS = 4
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/

/** The streams, by name. @internal */
export class Streams {
  private readonly byName = new Map<string, StreamState>()
  private incarnations = 0

  constructor(private readonly options: StreamOptions, private readonly errors: Errors) {}

  private arnOf(name: string): string {
    return `arn:aws:kinesis:${this.options.region}:${this.errors.accountId}:stream/${name}`
  }

  /** Brings a stream's state up to `now`: status transitions, pending reshard, expired shards. */
  private advance(stream: StreamState, now: number): StreamState | undefined {
    if (stream.status !== "ACTIVE" && now >= stream.statusUntil) {
      if (stream.status === "DELETING") {
        this.byName.delete(stream.name)
        return undefined
      }
      if (stream.status === "UPDATING" && stream.pending !== undefined) {
        const pending = stream.pending
        stream.pending = undefined
        pending(stream.statusUntil)
      }
      stream.status = "ACTIVE"
    }
    stream.expireShards(now)
    return stream
  }

  /** The stream an address names (any status), brought up to `now`. */
  lookup(address: StreamAddress.StreamAddress, now: number): StreamState | undefined {
    const stream = this.byName.get(address.name)
    if (stream === undefined) return undefined
    if (address._tag === "StreamArn" && address.arn !== stream.arn) return undefined
    return this.advance(stream, now)
  }

  /** A stream that takes data-plane calls (ACTIVE or UPDATING). */
  dataStream(address: StreamAddress.StreamAddress, now: number): StreamState | undefined {
    const stream = this.lookup(address, now)
    return stream !== undefined && (stream.status === "ACTIVE" || stream.status === "UPDATING") ? stream : undefined
  }

  /** The stream a token (shard iterator, ListShards page token) was issued for, if it still exists. */
  byIncarnation(name: string, incarnation: number, now: number): StreamState | undefined {
    const found = this.byName.get(name)
    return found === undefined || found.incarnation !== incarnation ? undefined : this.advance(found, now)
  }

  /** Every stream that still exists, brought up to `now`. */
  current(now: number): Array<StreamState> {
    const out: Array<StreamState> = []
    for (const found of [...this.byName.values()]) {
      const stream = this.advance(found, now)
      if (stream !== undefined) out.push(stream)
    }
    return out
  }

  /** A stream for the control service, by name or address (any status). */
  controlStream(
    operation: string,
    input: StreamAddress.StreamAddress | string,
    now: number
  ): Result<StreamState, ResourceNotFound> {
    const address = typeof input === "string" ? StreamAddress.make(input) : Either.right(input)
    const stream = Either.isRight(address) ? this.lookup(address.right, now) : undefined
    const name = typeof input === "string" ? input : StreamAddress.format(input)
    if (stream === undefined) return ko(this.errors.notFound(operation, name, name))
    return ok(stream)
  }

  /** Creates a stream with `shards` uniform shards. */
  add(
    name: string,
    options: {
      readonly shards: number
      readonly mode: Kinesis.StreamMode
      readonly retentionMs: number
      readonly maxRecordSize: number | undefined
    },
    now: number
  ): StreamState {
    const stream = new StreamState(
      name,
      this.arnOf(name),
      ++this.incarnations,
      options.mode,
      now,
      options.retentionMs,
      options.maxRecordSize
    )
    for (const range of uniformRangesBigInt(options.shards)) stream.addShard(range.start, range.end, [], now)
    stream.reindex()
    this.byName.set(name, stream)
    return stream
  }

  /** Runs a reshard now, or when the UPDATING period ends. */
  schedule(stream: StreamState, now: number, apply: (at: number) => void): void {
    if (this.options.updateMs > 0) {
      stream.status = "UPDATING"
      stream.statusUntil = now + this.options.updateMs
      stream.pending = apply
    } else {
      apply(now)
    }
  }

  /** Applies a pending reshard now (the control service reshards whatever the stream's state). */
  settle(stream: StreamState, now: number): void {
    if (stream.pending !== undefined) {
      const pending = stream.pending
      stream.pending = undefined
      pending(now)
    }
    if (stream.status === "UPDATING") stream.status = "ACTIVE"
  }

  createStream(
    request: Kinesis.CreateStreamRequest,
    now: number,
    ctx: CallContext
  ): Result<void, Kinesis.CreateStreamError> {
    const op = "createStream"
    const label = ctx.label
    const name = request.streamName
    if (!STREAM_NAME.test(name)) {
      return ko(this.errors.validation(
        op,
        label,
        name,
        "streamName",
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128"
      ))
    }
    const existing = this.byName.get(name)
    if (existing !== undefined && this.advance(existing, now) !== undefined) {
      return ko(this.errors.alreadyExists(op, label, name))
    }
    const mode = request.streamMode ?? "PROVISIONED"
    let shards: number
    if (mode === "ON_DEMAND") {
      if (request.shardCount !== undefined) {
        return ko(
          this.errors.invalid(
            op,
            label,
            "ShardCount must not be specified for an ON_DEMAND stream.",
            "ValidationException"
          )
        )
      }
      shards = ON_DEMAND_SHARDS
    } else {
      const count = request.shardCount
      if (count === undefined || !Number.isInteger(count) || count < 1) {
        return ko(this.errors.validation(
          op,
          label,
          count ?? "null",
          "shardCount",
          "Member must have value greater than or equal to 1"
        ))
      }
      shards = count
    }
    if (shards > MAX_SHARDS_PER_STREAM) {
      return ko(
        this.errors.limitExceeded(
          op,
          label,
          `This request would exceed the shard limit of ${MAX_SHARDS_PER_STREAM} shards per stream.`
        )
      )
    }
    const stream = this.add(
      name,
      { shards, mode, retentionMs: this.options.retentionMs, maxRecordSize: undefined },
      now
    )
    if (this.options.createMs > 0) {
      stream.status = "CREATING"
      stream.statusUntil = now + this.options.createMs
    }
    return ok(undefined)
  }

  deleteStream(
    request: Kinesis.DeleteStreamRequest,
    now: number,
    ctx: CallContext
  ): Result<void, Kinesis.DeleteStreamError> {
    const op = "deleteStream"
    const stream = this.lookup(request.stream, now)
    if (stream === undefined || stream.status === "DELETING") {
      return ko(this.errors.notFound(op, ctx.label, request.stream.name))
    }
    if (stream.status === "CREATING") return ko(this.errors.notActive(op, ctx.label, stream))
    if (this.options.deleteMs > 0) {
      stream.status = "DELETING"
      stream.statusUntil = now + this.options.deleteMs
      stream.pending = undefined
    } else {
      this.byName.delete(stream.name)
    }
    return ok(undefined)
  }
}
