/**
 * The service consumers coordinate through: shard leases, checkpoints, shard-ended marks and the
 * live-worker view used for balancing.
 *
 * A lease is the right to read one shard of one stream for one consumer group. Every lease write is
 * fenced by a lease counter: `acquire` increments it and returns a `Lease` token carrying the new
 * value, and `renew`, `release`, `checkpoint` and `markEnded` succeed only while the stored owner and
 * counter still match that token. A worker whose lease expired and was taken by another worker gets
 * `LeaseLost` and can never overwrite the new owner's checkpoint.
 *
 * The contract every implementation keeps (the conformance suite checks it):
 * - `acquire` is atomic: of workers racing for one shard exactly one wins, and the state it returns is
 *   the state it wrote (a stale owner's write either lands before it, and is returned, or fails).
 * - Fencing is by owner and lease counter only: the lease holder may still write after `expiresAt` as
 *   long as nobody took the lease (the consumer stops by itself when it could not renew in time).
 * - `acquire` by a worker other than the owner clears a pending hand-off request (it was about the
 *   previous owner), and so does `release`.
 * - Sequence numbers are stored as strings (they have up to 56 digits); `subSequenceNumber: 0` is kept.
 * - Time: `expiresAt` is epoch ms on the store's clock where it has one (Redis `TIME`), else the
 *   worker's `Clock` (memory, DynamoDB): keep worker clocks within a fraction of `sessionTimeout`.
 *
 * A checkpoint `(sequenceNumber, subSequenceNumber)` means "every record up to and including this
 * one has been processed". `subSequenceNumber` is set only inside a KPL aggregate whose later
 * sub-records are not processed yet; a restart then reads the aggregate again and skips the
 * sub-records up to it. Without it, reading resumes after `sequenceNumber`.
 *
 * Implementations: `Checkpointer.layerMemory` (one process, or many simulated workers over one
 * `MemoryStore`), `@effect-kinesis/checkpoint-redis` and `@effect-kinesis/checkpoint-dynamodb`. Each
 * passes the conformance suite `@effect-kinesis/core/testing/CheckpointerSuite`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint {
  readonly sequenceNumber: string
  /** Set only inside a KPL aggregate: sub-records `0 … subSequenceNumber` are processed. */
  readonly subSequenceNumber?: number | undefined
}

/**
 * A held lease: the token `renew`, `release`, `checkpoint` and `markEnded` are fenced with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly stream: string
  readonly shardId: string
  readonly owner: string
  readonly leaseCounter: number
}

/**
 * The stored state of one shard, as `get` and `list` see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardState {
  readonly shardId: string
  /** The worker holding the lease, if any (it may have expired: compare `expiresAt` with the clock). */
  readonly owner: string | undefined
  readonly leaseCounter: number
  /** Epoch ms when the lease expires unless renewed; 0 when not held. */
  readonly expiresAt: number
  readonly checkpoint: Checkpoint | undefined
  /** The shard was read to its end and everything in it was checkpointed: its children may be read. */
  readonly ended: boolean
  /** A worker asked the owner to hand this shard over (balancing). */
  readonly handOffTo: string | undefined
}

/**
 * A live worker of the group, as its last heartbeat left it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Worker {
  readonly workerId: string
  /** Epoch ms of the last heartbeat. */
  readonly lastSeen: number
  /** Epoch ms after which the worker counts as gone unless it heartbeats again. */
  readonly expiresAt: number
}

/**
 * The lease is no longer ours: it expired and another worker took it, or it was released. The
 * write that found out did nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{
  readonly stream: string
  readonly shardId: string
  /** The worker that held the lease token. */
  readonly owner: string
  readonly leaseCounter: number
  /** Who holds it now, if anyone. */
  readonly currentOwner: string | undefined
  readonly currentLeaseCounter: number
}> {
  /**
   * @since 0.1.0
   */
  override get message() {
    return `lease on ${this.stream}/${this.shardId} lost by ${this.owner} (counter ${this.leaseCounter}): ` +
      (this.currentOwner === undefined
        ? `not held now (counter ${this.currentLeaseCounter})`
        : `held by ${this.currentOwner} (counter ${this.currentLeaseCounter})`)
  }
}

/**
 * The coordination store failed (connection lost, throttled, refused…). Retry with a Schedule.
 *
 * @since 0.1.0
 * @category errors
 */
export class CheckpointerError extends Data.TaggedError("CheckpointerError")<{
  /** The operation that failed, e.g. `"checkpoint"`. */
  readonly operation: string
  readonly stream?: string | undefined
  readonly shardId?: string | undefined
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** This worker's id (unique per process and group). */
  readonly workerId: string
  /** A lease not renewed for this long expires; a worker not heartbeating for this long is gone. */
  readonly sessionTimeout: Duration.Duration
  /** How often the consumer renews its leases and heartbeats (well under `sessionTimeout`). */
  readonly heartbeatInterval: Duration.Duration

  /**
   * Takes the shard's lease when it is free, expired or already ours (the counter is incremented
   * either way). `None` when another worker holds a live lease. A fresh shard gets a state with no
   * checkpoint.
   */
  readonly acquire: (
    stream: string,
    shardId: string
  ) => Effect.Effect<Option.Option<readonly [Lease, ShardState]>, CheckpointerError>
  /** Extends the lease by `sessionTimeout`; the returned state shows hand-off requests. */
  readonly renew: (lease: Lease) => Effect.Effect<ShardState, LeaseLost | CheckpointerError>
  /** Gives the lease up (keeps the checkpoint, clears a hand-off request). */
  readonly release: (lease: Lease) => Effect.Effect<void, LeaseLost | CheckpointerError>
  /** Stores the checkpoint, fenced by the lease. */
  readonly checkpoint: (lease: Lease, checkpoint: Checkpoint) => Effect.Effect<void, LeaseLost | CheckpointerError>
  /** Marks the shard fully read and checkpointed (with its final checkpoint, when given). */
  readonly markEnded: (
    lease: Lease,
    checkpoint?: Checkpoint | undefined
  ) => Effect.Effect<void, LeaseLost | CheckpointerError>
  /** Asks the shard's owner to hand it over to `to` (advisory: the owner releases after its checkpoint). */
  readonly requestHandOff: (stream: string, shardId: string, to: string) => Effect.Effect<void, CheckpointerError>
  readonly get: (stream: string, shardId: string) => Effect.Effect<Option.Option<ShardState>, CheckpointerError>
  readonly list: (stream: string) => Effect.Effect<ReadonlyArray<ShardState>, CheckpointerError>
  /** Records this worker as live for `sessionTimeout`. */
  readonly heartbeat: (stream: string) => Effect.Effect<void, CheckpointerError>
  /** Workers whose heartbeat has not expired. */
  readonly workers: (stream: string) => Effect.Effect<ReadonlyArray<Worker>, CheckpointerError>
  /** Removes this worker from the live view (on shutdown). */
  readonly leave: (stream: string) => Effect.Effect<void, CheckpointerError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Checkpointer extends Context.Tag("@effect-kinesis/core/Checkpointer")<Checkpointer, Service>() {}

/**
 * Options shared by every implementation.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Default: a random id (`hostname-pid-random` for the store-backed layers). */
  readonly workerId?: string | undefined
  /** Default: 30 seconds. */
  readonly sessionTimeout?: Duration.DurationInput | undefined
  /** Default: a third of `sessionTimeout`. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults = {
  sessionTimeout: Duration.seconds(30)
} as const

/**
 * Resolves the common options (used by every implementation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveOptions = (options: CommonOptions | undefined, workerIdPrefix = "worker"): {
  readonly workerId: string
  readonly sessionTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
} => {
  const sessionTimeout = Duration.decode(options?.sessionTimeout ?? defaults.sessionTimeout)
  return {
    workerId: options?.workerId ?? `${workerIdPrefix}-${Math.random().toString(36).slice(2, 10)}`,
    sessionTimeout,
    heartbeatInterval: options?.heartbeatInterval === undefined
      ? Duration.millis(Math.max(1, Math.floor(Duration.toMillis(sessionTimeout) / 3)))
      : Duration.decode(options.heartbeatInterval)
  }
}

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

interface MutableShardState {
  owner: string | undefined
  leaseCounter: number
  expiresAt: number
  checkpoint: Checkpoint | undefined
  ended: boolean
  handOffTo: string | undefined
}

/**
 * The state behind `layerMemory`: share one between several `layerMemory`/`makeMemory` workers to
 * simulate a consumer group in one process.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryStore {
  readonly shards: Map<string, Map<string, MutableShardState>>
  readonly workers: Map<string, Map<string, Worker>>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeMemoryStore = (): MemoryStore => ({ shards: new Map(), workers: new Map() })

const snapshot = (shardId: string, s: MutableShardState): ShardState => ({
  shardId,
  owner: s.owner,
  leaseCounter: s.leaseCounter,
  expiresAt: s.expiresAt,
  checkpoint: s.checkpoint,
  ended: s.ended,
  handOffTo: s.handOffTo
})

/**
 * A checkpointer in memory: leases and checkpoints live as long as the store. Time is Effect's
 * `Clock`, so `TestClock` drives lease expiry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (
  options?: CommonOptions & { readonly store?: MemoryStore | undefined }
): Effect.Effect<Service> =>
  Effect.sync(() => {
    const { heartbeatInterval, sessionTimeout, workerId } = resolveOptions(options)
    const store = options?.store ?? makeMemoryStore()
    const ttl = Duration.toMillis(sessionTimeout)
    const shardsOf = (stream: string) => {
      let shards = store.shards.get(stream)
      if (shards === undefined) {
        shards = new Map()
        store.shards.set(stream, shards)
      }
      return shards
    }
    const workersOf = (stream: string) => {
      let workers = store.workers.get(stream)
      if (workers === undefined) {
        workers = new Map()
        store.workers.set(stream, workers)
      }
      return workers
    }
    /** Runs `f` on the shard's state if the lease still matches, else fails with LeaseLost. */
    const fenced = <X>(lease: Lease, f: (state: MutableShardState, now: number) => X) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          const state = shardsOf(lease.stream).get(lease.shardId)
          if (
            state === undefined || state.owner !== lease.owner || state.leaseCounter !== lease.leaseCounter
          ) {
            return Effect.fail(
              new LeaseLost({
                stream: lease.stream,
                shardId: lease.shardId,
                owner: lease.owner,
                leaseCounter: lease.leaseCounter,
                currentOwner: state?.owner,
                currentLeaseCounter: state?.leaseCounter ?? 0
              })
            )
          }
          return Effect.succeed(f(state, now))
        }))

    const service: Service = {
      workerId,
      sessionTimeout,
      heartbeatInterval,
      acquire: (stream, shardId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const shards = shardsOf(stream)
          let state = shards.get(shardId)
          if (state === undefined) {
            state = {
              owner: undefined,
              leaseCounter: 0,
              expiresAt: 0,
              checkpoint: undefined,
              ended: false,
              handOffTo: undefined
            }
            shards.set(shardId, state)
          }
          if (state.owner !== undefined && state.owner !== workerId && state.expiresAt > now) return Option.none()
          // a hand-off request is about the previous owner: moot once the lease changes hands
          if (state.owner !== workerId || state.handOffTo === workerId) state.handOffTo = undefined
          state.owner = workerId
          state.leaseCounter++
          state.expiresAt = now + ttl
          const lease: Lease = { stream, shardId, owner: workerId, leaseCounter: state.leaseCounter }
          return Option.some([lease, snapshot(shardId, state)] as const)
        }),
      renew: (lease) =>
        fenced(lease, (state, now) => {
          state.expiresAt = now + ttl
          return snapshot(lease.shardId, state)
        }),
      release: (lease) =>
        fenced(lease, (state) => {
          state.owner = undefined
          state.expiresAt = 0
          state.handOffTo = undefined
        }),
      checkpoint: (lease, checkpoint) =>
        fenced(lease, (state) => {
          state.checkpoint = checkpoint
        }),
      markEnded: (lease, checkpoint) =>
        fenced(lease, (state) => {
          if (checkpoint !== undefined) state.checkpoint = checkpoint
          state.ended = true
        }),
      requestHandOff: (stream, shardId, to) =>
        Effect.sync(() => {
          const state = shardsOf(stream).get(shardId)
          if (state !== undefined && state.owner !== undefined && state.owner !== to) state.handOffTo = to
        }),
      get: (stream, shardId) =>
        Effect.sync(() => {
          const state = shardsOf(stream).get(shardId)
          return state === undefined ? Option.none() : Option.some(snapshot(shardId, state))
        }),
      list: (stream) => Effect.sync(() => Array.from(shardsOf(stream), ([id, state]) => snapshot(id, state))),
      heartbeat: (stream) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          workersOf(stream).set(workerId, { workerId, lastSeen: now, expiresAt: now + ttl })
        }),
      workers: (stream) =>
        Effect.map(
          Clock.currentTimeMillis,
          (now) => Array.from(workersOf(stream).values()).filter((w) => w.expiresAt > now)
        ),
      leave: (stream) =>
        Effect.sync(() => {
          workersOf(stream).delete(workerId)
        })
    }
    return service
  })

/**
 * A `Checkpointer` in memory, for one process (or several simulated workers sharing `store`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (
  options?: CommonOptions & { readonly store?: MemoryStore | undefined }
): Layer.Layer<Checkpointer> => Layer.effect(Checkpointer, makeMemory(options))
