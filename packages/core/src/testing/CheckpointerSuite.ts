/**
 * The Checkpointer's conformance suite: one set of cases every implementation of `Checkpointer.Service`
 * must pass (memory here; Redis and DynamoDB in their packages, against real servers). Import it as
 * `@effect-kinesis/core/testing/CheckpointerSuite` and register it with `run(name, { makeWorker })`.
 *
 * The cases keep real time (`it.scopedLive`): a store-backed implementation expires leases by the wall
 * clock, so the cases use short session timeouts and sleep past them. Raise `timeoutScale` for a slow
 * store. Every case uses only the `Service` interface, on a stream name no other case uses (the
 * `namespace` handed to `makeWorker`), so cases never see each other's data on a shared server.
 *
 * Needs `vitest` and `@effect/vitest` (optional peer dependencies of this package).
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Checkpointer from "../Checkpointer.js"

/**
 * What the suite asks for when it needs a worker.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions {
  /**
   * Unique per case. The suite uses it as the stream name of every call (and `${namespace}-other` for
   * a second stream). An implementation over a shared server may also build its key prefix or table
   * name from it.
   */
  readonly namespace: string
  readonly workerId: string
  readonly sessionTimeout: Duration.DurationInput
  readonly heartbeatInterval?: Duration.DurationInput
}

/**
 * How to run the suite against one implementation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * A worker over the case's backing store: every worker made with the same `namespace` must see the
   * same leases, checkpoints and heartbeats (one memory store per namespace, or one server).
   */
  readonly makeWorker: (options: WorkerOptions) => Effect.Effect<Checkpointer.Service, unknown, Scope.Scope>
  /** Multiplies every session timeout, wait and clock tolerance of the suite. Default: 1. */
  readonly timeoutScale?: number
}

type Result<A> = Effect.Effect<A, Checkpointer.LeaseLost | Checkpointer.CheckpointerError>

const shard = (i: number): string => `shardId-${String(i).padStart(12, "0")}`

/** A 56-digit sequence number, as Kinesis makes them: far beyond 2^53 and DynamoDB's 38-digit numbers. */
const seq = (n: number): string => `49590338271490256608559692538361571095921575989136${String(n).padStart(6, "0")}`

const freshNamespace = (): string => `suite-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const assertCheckpoint = (
  actual: Checkpointer.Checkpoint | undefined,
  expected: Checkpointer.Checkpoint | undefined,
  what: string
): void => {
  if (expected === undefined) {
    assert.strictEqual(actual, undefined, `${what}: no checkpoint expected`)
    return
  }
  if (actual === undefined) return assert.fail(`${what}: expected checkpoint ${JSON.stringify(expected)}, got none`)
  assert.strictEqual(actual.sequenceNumber, expected.sequenceNumber, `${what}: sequenceNumber`)
  assert.strictEqual(actual.subSequenceNumber, expected.subSequenceNumber, `${what}: subSequenceNumber`)
}

const getSome = (worker: Checkpointer.Service, stream: string, shardId: string) =>
  Effect.flatMap(worker.get(stream, shardId), (state) =>
    Option.isSome(state)
      ? Effect.succeed(state.value)
      : Effect.sync(() => assert.fail(`get(${stream}, ${shardId}): expected a state, got None`)))

const acquireSome = (worker: Checkpointer.Service, stream: string, shardId: string) =>
  Effect.flatMap(worker.acquire(stream, shardId), (acquired) =>
    Option.isSome(acquired)
      ? Effect.succeed(acquired.value)
      : Effect.sync(() => assert.fail(`${worker.workerId} could not acquire ${stream}/${shardId}`)))

/** Runs a fenced write that must fail with `LeaseLost` naming the token and the shard's current holder. */
const assertLeaseLost = <A>(
  what: string,
  effect: Result<A>,
  lease: Checkpointer.Lease,
  current: { readonly owner: string | undefined; readonly leaseCounter?: number }
) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(effect)
    if (Either.isRight(result)) return assert.fail(`${what}: expected LeaseLost, but it succeeded`)
    const error = result.left
    if (error._tag !== "LeaseLost") {
      return assert.fail(`${what}: expected LeaseLost, got ${error._tag}: ${error.message}`)
    }
    assert.strictEqual(error.stream, lease.stream, `${what}: LeaseLost.stream`)
    assert.strictEqual(error.shardId, lease.shardId, `${what}: LeaseLost.shardId`)
    assert.strictEqual(error.owner, lease.owner, `${what}: LeaseLost.owner`)
    assert.strictEqual(error.leaseCounter, lease.leaseCounter, `${what}: LeaseLost.leaseCounter`)
    assert.strictEqual(error.currentOwner, current.owner, `${what}: LeaseLost.currentOwner`)
    if (current.leaseCounter !== undefined) {
      assert.strictEqual(error.currentLeaseCounter, current.leaseCounter, `${what}: LeaseLost.currentLeaseCounter`)
    }
  })

/** Every fenced write of a token that is no longer the lease's. */
const assertAllFenced = (
  worker: Checkpointer.Service,
  lease: Checkpointer.Lease,
  current: { readonly owner: string | undefined; readonly leaseCounter?: number },
  stale: Checkpointer.Checkpoint
) =>
  Effect.gen(function*() {
    yield* assertLeaseLost("renew", worker.renew(lease), lease, current)
    yield* assertLeaseLost("checkpoint", worker.checkpoint(lease, stale), lease, current)
    yield* assertLeaseLost("markEnded", worker.markEnded(lease), lease, current)
    yield* assertLeaseLost("markEnded with a checkpoint", worker.markEnded(lease, stale), lease, current)
    yield* assertLeaseLost("release", worker.release(lease), lease, current)
  })

/** Lets other fibers run `n` times. */
const yields = (n: number) => Effect.forEach(Array.from({ length: n }), () => Effect.yieldNow(), { discard: true })

const sortedIds = <A>(items: ReadonlyArray<A>, id: (a: A) => string): Array<string> => items.map(id).sort()

/**
 * Registers the Checkpointer's conformance cases for one implementation.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (name: string, options: Options): void => {
  const scale = options.timeoutScale ?? 1
  const ms = (n: number): number => Math.round(n * scale)
  /** The session timeout of the cases that wait for expiry. */
  const ttl = ms(400)
  /** The session timeout of the cases that must not see a lease expire. */
  const longTtl = ms(5_000)
  /** How far the store's idea of "now" may be from ours. */
  const slack = ms(100)
  const sleep = (n: number) => Effect.sleep(Duration.millis(ms(n)))
  /** Waits until a lease or heartbeat of `ttl` made before this call has surely expired. */
  const pastTtl = sleep(600)

  /** A fresh namespace (the case's stream) and a way to make workers over it. */
  const setup = Effect.sync(() => {
    const namespace = freshNamespace()
    const worker = (
      workerId: string,
      sessionTimeout: number = ttl,
      heartbeatInterval?: Duration.DurationInput
    ) =>
      options.makeWorker({
        namespace,
        workerId,
        sessionTimeout: Duration.millis(sessionTimeout),
        ...(heartbeatInterval === undefined ? {} : { heartbeatInterval })
      })
    return { stream: namespace, other: `${namespace}-other`, worker }
  })

  /** Asserts an epoch-ms expiry is `sessionTimeout` after some instant in [before, after]. */
  const assertExpiry = (expiresAt: number, before: number, after: number, sessionTimeout: number, what: string) => {
    assert.isAtLeast(expiresAt, before + sessionTimeout - slack, `${what}: expiresAt too early`)
    assert.isAtMost(expiresAt, after + sessionTimeout + slack, `${what}: expiresAt too late`)
  }

  describe(name, () => {
    it.scopedLive("a worker reports its workerId, sessionTimeout and heartbeatInterval", () =>
      Effect.gen(function*() {
        const { worker } = yield* setup
        const a = yield* worker("worker-a", ms(900), Duration.millis(ms(250)))
        assert.strictEqual(a.workerId, "worker-a")
        assert.strictEqual(Duration.toMillis(a.sessionTimeout), ms(900))
        assert.strictEqual(Duration.toMillis(a.heartbeatInterval), ms(250))
        // without heartbeatInterval: a third of sessionTimeout
        const b = yield* worker("worker-b", ms(900))
        assert.strictEqual(b.workerId, "worker-b")
        assert.approximately(Duration.toMillis(b.heartbeatInterval), ms(900) / 3, 1)
      }))

    it.scopedLive("acquire takes a fresh shard: a lease with counter ≥ 1, no checkpoint, not ended", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a")
        assert.isTrue(Option.isNone(yield* a.get(stream, shard(0))), "get of a shard nobody acquired")
        const before = yield* Clock.currentTimeMillis
        const [lease, state] = yield* acquireSome(a, stream, shard(0))
        const after = yield* Clock.currentTimeMillis
        assert.deepStrictEqual(
          { stream: lease.stream, shardId: lease.shardId, owner: lease.owner },
          { stream, shardId: shard(0), owner: "worker-a" }
        )
        assert.isAtLeast(lease.leaseCounter, 1)
        assert.strictEqual(state.shardId, shard(0))
        assert.strictEqual(state.owner, "worker-a")
        assert.strictEqual(state.leaseCounter, lease.leaseCounter)
        assertExpiry(state.expiresAt, before, after, ttl, "acquire")
        assertCheckpoint(state.checkpoint, undefined, "acquire")
        assert.strictEqual(state.ended, false)
        assert.strictEqual(state.handOffTo, undefined)

        const got = yield* getSome(a, stream, shard(0))
        assert.strictEqual(got.owner, "worker-a")
        assert.strictEqual(got.leaseCounter, lease.leaseCounter)
        assert.strictEqual(got.expiresAt, state.expiresAt)
        assertCheckpoint(got.checkpoint, undefined, "get")
        assert.strictEqual(got.ended, false)
      }))

    it.scopedLive("another worker cannot acquire a live lease, and trying changes nothing", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        const [lease, state] = yield* acquireSome(a, stream, shard(0))
        assert.isTrue(Option.isNone(yield* b.acquire(stream, shard(0))), "worker-b acquired a live lease")
        const got = yield* getSome(b, stream, shard(0))
        assert.strictEqual(got.owner, "worker-a")
        assert.strictEqual(got.leaseCounter, lease.leaseCounter)
        assert.strictEqual(got.expiresAt, state.expiresAt)
        // the owner's token still works
        yield* a.checkpoint(lease, { sequenceNumber: seq(1) })
        yield* a.renew(lease)
      }))

    it.scopedLive("re-acquiring its own lease increments the counter and fences the older token", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        const [first] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(first, { sequenceNumber: seq(1), subSequenceNumber: 4 })
        const [second, state] = yield* acquireSome(a, stream, shard(0))
        assert.strictEqual(second.owner, "worker-a")
        assert.isAbove(second.leaseCounter, first.leaseCounter)
        assert.strictEqual(state.leaseCounter, second.leaseCounter)
        assertCheckpoint(state.checkpoint, { sequenceNumber: seq(1), subSequenceNumber: 4 }, "re-acquire")

        yield* assertLeaseLost("renew with the older token", a.renew(first), first, {
          owner: "worker-a",
          leaseCounter: second.leaseCounter
        })
        const renewed = yield* a.renew(second)
        assert.strictEqual(renewed.leaseCounter, second.leaseCounter)
        assert.isTrue(Option.isNone(yield* b.acquire(stream, shard(0))))
      }))

    it.scopedLive(
      "after expiry another worker takes the lease; every write with the old token fails with LeaseLost",
      () =>
        Effect.gen(function*() {
          const { stream, worker } = yield* setup
          const a = yield* worker("worker-a")
          const b = yield* worker("worker-b")
          const [old] = yield* acquireSome(a, stream, shard(0))
          yield* a.checkpoint(old, { sequenceNumber: seq(10) })
          yield* pastTtl

          const expired = yield* getSome(b, stream, shard(0))
          assert.isBelow(expired.expiresAt, yield* Clock.currentTimeMillis, "the lease should have expired")
          const [lease, state] = yield* acquireSome(b, stream, shard(0))
          assert.strictEqual(lease.owner, "worker-b")
          assert.isAbove(lease.leaseCounter, old.leaseCounter)
          assert.strictEqual(state.owner, "worker-b")
          assertCheckpoint(state.checkpoint, { sequenceNumber: seq(10) }, "the new owner's acquire")
          yield* b.checkpoint(lease, { sequenceNumber: seq(20), subSequenceNumber: 1 })

          yield* assertAllFenced(a, old, { owner: "worker-b", leaseCounter: lease.leaseCounter }, {
            sequenceNumber: seq(99)
          })
          assert.isTrue(Option.isNone(yield* a.acquire(stream, shard(0))), "the old owner took the lease back")

          const now = yield* getSome(b, stream, shard(0))
          assert.strictEqual(now.owner, "worker-b")
          assert.strictEqual(now.leaseCounter, lease.leaseCounter)
          assertCheckpoint(now.checkpoint, { sequenceNumber: seq(20), subSequenceNumber: 1 }, "after stale writes")
          assert.strictEqual(now.ended, false)
          const renewed = yield* b.renew(lease)
          assert.strictEqual(renewed.owner, "worker-b")
        })
    )

    it.scopedLive("renew extends the lease past its original expiry", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const leaseTtl = ms(500)
        const a = yield* worker("worker-a", leaseTtl)
        const b = yield* worker("worker-b", leaseTtl)
        const [lease, state] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(lease, { sequenceNumber: seq(1) })
        yield* sleep(300)

        const before = yield* Clock.currentTimeMillis
        const renewed = yield* a.renew(lease)
        const after = yield* Clock.currentTimeMillis
        assert.strictEqual(renewed.shardId, shard(0))
        assert.strictEqual(renewed.owner, "worker-a")
        assert.strictEqual(renewed.leaseCounter, lease.leaseCounter, "renew must not change the counter")
        assert.isAbove(renewed.expiresAt, state.expiresAt)
        assertExpiry(renewed.expiresAt, before, after, leaseTtl, "renew")
        assertCheckpoint(renewed.checkpoint, { sequenceNumber: seq(1) }, "renew")

        // past the original expiry, the renewed lease holds
        yield* sleep(300)
        assert.isTrue(Option.isNone(yield* b.acquire(stream, shard(0))), "worker-b took a renewed lease")
        yield* a.checkpoint(lease, { sequenceNumber: seq(2) })

        // and it expires sessionTimeout after the renewal
        yield* sleep(400)
        const [taken] = yield* acquireSome(b, stream, shard(0))
        assert.isAbove(taken.leaseCounter, lease.leaseCounter)
      }))

    it.scopedLive("checkpoint round-trips with and without subSequenceNumber; a later one replaces it", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const [lease] = yield* acquireSome(a, stream, shard(0))
        const cases: ReadonlyArray<Checkpointer.Checkpoint> = [
          { sequenceNumber: seq(1) },
          { sequenceNumber: seq(2), subSequenceNumber: 7 },
          { sequenceNumber: seq(2), subSequenceNumber: 0 },
          { sequenceNumber: seq(3) },
          { sequenceNumber: seq(3), subSequenceNumber: undefined }
        ]
        for (const [i, checkpoint] of cases.entries()) {
          yield* a.checkpoint(lease, checkpoint)
          const got = yield* getSome(a, stream, shard(0))
          assertCheckpoint(got.checkpoint, checkpoint, `get after checkpoint #${i}`)
          assert.strictEqual(got.owner, "worker-a")
          assert.strictEqual(got.leaseCounter, lease.leaseCounter, "checkpoint must not change the counter")
          const renewed = yield* a.renew(lease)
          assertCheckpoint(renewed.checkpoint, checkpoint, `renew after checkpoint #${i}`)
        }
        // another shard's checkpoint is its own
        const [other] = yield* acquireSome(a, stream, shard(1))
        yield* a.checkpoint(other, { sequenceNumber: seq(50), subSequenceNumber: 2 })
        assertCheckpoint((yield* getSome(a, stream, shard(0))).checkpoint, { sequenceNumber: seq(3) }, "shard 0")
        assertCheckpoint(
          (yield* getSome(a, stream, shard(1))).checkpoint,
          { sequenceNumber: seq(50), subSequenceNumber: 2 },
          "shard 1"
        )
      }))

    it.scopedLive("a checkpoint survives release and acquisition by another worker", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        const [lease] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(lease, { sequenceNumber: seq(5), subSequenceNumber: 2 })
        yield* a.release(lease)
        assertCheckpoint(
          (yield* getSome(b, stream, shard(0))).checkpoint,
          { sequenceNumber: seq(5), subSequenceNumber: 2 },
          "get after release"
        )
        const [taken, state] = yield* acquireSome(b, stream, shard(0))
        assert.isAbove(taken.leaseCounter, lease.leaseCounter)
        assertCheckpoint(state.checkpoint, { sequenceNumber: seq(5), subSequenceNumber: 2 }, "acquire by worker-b")
        assert.strictEqual(state.ended, false)
      }))

    it.scopedLive("markEnded with and without a final checkpoint; the mark survives a change of owner", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)

        // without a checkpoint: the last one stays
        const [l0] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(l0, { sequenceNumber: seq(1) })
        yield* a.markEnded(l0)
        const s0 = yield* getSome(a, stream, shard(0))
        assert.strictEqual(s0.ended, true)
        assertCheckpoint(s0.checkpoint, { sequenceNumber: seq(1) }, "markEnded without a checkpoint")

        // with one: it is stored
        const [l1] = yield* acquireSome(a, stream, shard(1))
        yield* a.checkpoint(l1, { sequenceNumber: seq(1) })
        yield* a.markEnded(l1, { sequenceNumber: seq(9), subSequenceNumber: 3 })
        const s1 = yield* getSome(a, stream, shard(1))
        assert.strictEqual(s1.ended, true)
        assertCheckpoint(s1.checkpoint, { sequenceNumber: seq(9), subSequenceNumber: 3 }, "markEnded with one")

        // an empty closed shard: ended, never checkpointed
        const [l2] = yield* acquireSome(a, stream, shard(2))
        yield* a.markEnded(l2)
        const s2 = yield* getSome(a, stream, shard(2))
        assert.strictEqual(s2.ended, true)
        assertCheckpoint(s2.checkpoint, undefined, "markEnded of an empty shard")

        // an untouched shard is not ended
        const [l3] = yield* acquireSome(a, stream, shard(3))
        assert.strictEqual((yield* a.renew(l3)).ended, false)

        yield* a.release(l0)
        const [, taken] = yield* acquireSome(b, stream, shard(0))
        assert.strictEqual(taken.ended, true, "ended must survive a change of owner")
        assertCheckpoint(taken.checkpoint, { sequenceNumber: seq(1) }, "acquire of an ended shard")
      }))

    it.scopedLive("release frees the lease at once; the released token is fenced", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        const [lease] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(lease, { sequenceNumber: seq(1) })
        yield* a.release(lease)

        const released = yield* getSome(b, stream, shard(0))
        assert.strictEqual(released.owner, undefined)
        assert.strictEqual(released.expiresAt, 0)
        assertCheckpoint(released.checkpoint, { sequenceNumber: seq(1) }, "after release")
        yield* assertLeaseLost(
          "checkpoint after release",
          a.checkpoint(lease, { sequenceNumber: seq(2) }),
          lease,
          { owner: undefined }
        )
        yield* assertLeaseLost("renew after release", a.renew(lease), lease, { owner: undefined })

        // well before sessionTimeout, another worker takes it
        const [taken] = yield* acquireSome(b, stream, shard(0))
        assert.strictEqual(taken.owner, "worker-b")
        assert.isAbove(taken.leaseCounter, lease.leaseCounter)
        yield* assertAllFenced(a, lease, { owner: "worker-b", leaseCounter: taken.leaseCounter }, {
          sequenceNumber: seq(3)
        })
        assertCheckpoint((yield* getSome(b, stream, shard(0))).checkpoint, { sequenceNumber: seq(1) }, "final")
      }))

    it.scopedLive("requestHandOff shows on the owner's renew and is cleared by release", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        const [lease] = yield* acquireSome(a, stream, shard(0))
        assert.strictEqual((yield* a.renew(lease)).handOffTo, undefined)

        yield* b.requestHandOff(stream, shard(0), "worker-b")
        const requested = yield* getSome(b, stream, shard(0))
        assert.strictEqual(requested.handOffTo, "worker-b")
        assert.strictEqual(requested.owner, "worker-a", "a hand-off request does not move the lease")
        assert.strictEqual(requested.leaseCounter, lease.leaseCounter)
        assert.isTrue(Option.isNone(yield* b.acquire(stream, shard(0))))

        const renewed = yield* a.renew(lease)
        assert.strictEqual(renewed.handOffTo, "worker-b")
        yield* a.checkpoint(lease, { sequenceNumber: seq(7) })
        yield* a.release(lease)
        assert.strictEqual((yield* getSome(b, stream, shard(0))).handOffTo, undefined, "release clears it")

        const [taken, state] = yield* acquireSome(b, stream, shard(0))
        assert.strictEqual(state.handOffTo, undefined)
        assertCheckpoint(state.checkpoint, { sequenceNumber: seq(7) }, "after the hand-off")
        assert.strictEqual((yield* b.renew(taken)).handOffTo, undefined)
      }))

    it.scopedLive("a hand-off request is cleared when its target acquires the shard", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a")
        const b = yield* worker("worker-b")
        const [lease] = yield* acquireSome(a, stream, shard(0))
        yield* b.requestHandOff(stream, shard(0), "worker-b")
        assert.strictEqual((yield* a.renew(lease)).handOffTo, "worker-b")
        // the owner never lets go: its lease expires
        yield* pastTtl
        const [taken, state] = yield* acquireSome(b, stream, shard(0))
        assert.strictEqual(state.handOffTo, undefined)
        assert.strictEqual((yield* getSome(b, stream, shard(0))).handOffTo, undefined)
        assert.strictEqual((yield* b.renew(taken)).handOffTo, undefined)
      }))

    it.scopedLive("a hand-off request is cleared when any other worker takes the lease", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a")
        const b = yield* worker("worker-b")
        const c = yield* worker("worker-c")
        yield* acquireSome(a, stream, shard(0))
        yield* b.requestHandOff(stream, shard(0), "worker-b")
        yield* pastTtl
        // c, not the target, takes the expired lease: the request was about a's lease, it is moot
        const [, state] = yield* acquireSome(c, stream, shard(0))
        assert.strictEqual(state.owner, "worker-c")
        assert.strictEqual(state.handOffTo, undefined)
        assert.strictEqual((yield* getSome(c, stream, shard(0))).handOffTo, undefined)
      }))

    it.scopedLive("list returns every shard of the stream and only that stream's", () =>
      Effect.gen(function*() {
        const { other, stream, worker } = yield* setup
        const a = yield* worker("worker-a", longTtl)
        const b = yield* worker("worker-b", longTtl)
        assert.deepStrictEqual(yield* a.list(stream), [])

        const [l0] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(l0, { sequenceNumber: seq(100) })
        const [l1] = yield* acquireSome(a, stream, shard(1))
        yield* a.release(l1)
        const [l2] = yield* acquireSome(b, stream, shard(2))
        yield* b.markEnded(l2, { sequenceNumber: seq(200), subSequenceNumber: 5 })
        // the same shard id on another stream is another shard
        const [o0] = yield* acquireSome(b, other, shard(0))
        yield* b.checkpoint(o0, { sequenceNumber: seq(300) })

        const listed = [...(yield* a.list(stream))].sort((x, y) => x.shardId.localeCompare(y.shardId))
        assert.deepStrictEqual(listed.map((s) => s.shardId), [shard(0), shard(1), shard(2)])
        const [s0, s1, s2] = listed
        assert.strictEqual(s0!.owner, "worker-a")
        assert.strictEqual(s0!.leaseCounter, l0.leaseCounter)
        assertCheckpoint(s0!.checkpoint, { sequenceNumber: seq(100) }, "list: shard 0")
        assert.strictEqual(s1!.owner, undefined)
        assertCheckpoint(s1!.checkpoint, undefined, "list: shard 1")
        assert.strictEqual(s2!.owner, "worker-b")
        assert.strictEqual(s2!.ended, true)
        assertCheckpoint(s2!.checkpoint, { sequenceNumber: seq(200), subSequenceNumber: 5 }, "list: shard 2")

        const otherListed = yield* b.list(other)
        assert.deepStrictEqual(sortedIds(otherListed, (s) => s.shardId), [shard(0)])
        assert.strictEqual(otherListed[0]!.owner, "worker-b")
        assertCheckpoint(otherListed[0]!.checkpoint, { sequenceNumber: seq(300) }, "list: other stream")
        assert.deepStrictEqual(yield* a.list(`${stream}-unused`), [])
      }))

    it.scopedLive("workers: live workers are listed, a silent one goes after sessionTimeout, leave is at once", () =>
      Effect.gen(function*() {
        const { other, stream, worker } = yield* setup
        const workerTtl = ms(600)
        const a = yield* worker("worker-a", workerTtl)
        const b = yield* worker("worker-b", workerTtl)
        const c = yield* worker("worker-c", workerTtl)
        assert.deepStrictEqual(yield* a.workers(stream), [])

        const before = yield* Clock.currentTimeMillis
        yield* a.heartbeat(stream)
        yield* a.heartbeat(stream)
        yield* b.heartbeat(stream)
        yield* c.heartbeat(stream)
        const after = yield* Clock.currentTimeMillis
        const live = yield* a.workers(stream)
        assert.deepStrictEqual(sortedIds(live, (w) => w.workerId), ["worker-a", "worker-b", "worker-c"])
        for (const w of live) {
          assert.isAtLeast(w.lastSeen, before - slack, `${w.workerId}: lastSeen`)
          assert.isAtMost(w.lastSeen, after + slack, `${w.workerId}: lastSeen`)
          assertExpiry(w.expiresAt, before, after, workerTtl, w.workerId)
        }
        assert.deepStrictEqual(yield* a.workers(other), [], "heartbeats are per stream")

        yield* c.leave(stream)
        assert.deepStrictEqual(sortedIds(yield* b.workers(stream), (w) => w.workerId), ["worker-a", "worker-b"])

        // worker-a keeps heartbeating, worker-b falls silent
        yield* sleep(350)
        yield* a.heartbeat(stream)
        yield* sleep(350)
        assert.deepStrictEqual(sortedIds(yield* a.workers(stream), (w) => w.workerId), ["worker-a"])

        // a worker that comes back is listed again
        yield* b.heartbeat(stream)
        assert.deepStrictEqual(sortedIds(yield* a.workers(stream), (w) => w.workerId), ["worker-a", "worker-b"])
      }))

    const workerIds = ["race-0", "race-1", "race-2", "race-3", "race-4"]
    const shards = Array.from({ length: 20 }, (_, i) => shard(i))

    /** All workers acquire every shard at once; each shard must have exactly one winner. */
    const race = (stream: string, workers: ReadonlyArray<Checkpointer.Service>) =>
      Effect.forEach(shards, (shardId) =>
        Effect.gen(function*() {
          const results = yield* Effect.all(workers.map((w) => w.acquire(stream, shardId)), {
            concurrency: "unbounded"
          })
          const winners = results.filter(Option.isSome).map((r) => r.value)
          assert.strictEqual(winners.length, 1, `${shardId}: ${winners.length} workers acquired it`)
          const [lease, state] = winners[0]!
          const got = yield* getSome(workers[0]!, stream, shardId)
          assert.strictEqual(got.owner, lease.owner, `${shardId}: stored owner`)
          assert.strictEqual(got.leaseCounter, lease.leaseCounter, `${shardId}: stored counter`)
          assert.strictEqual(state.leaseCounter, lease.leaseCounter)
          const winner = workers.find((w) => w.workerId === lease.owner)!
          yield* winner.checkpoint(lease, { sequenceNumber: seq(1) })
          return lease
        }), { concurrency: "unbounded" })

    it.scopedLive("race: of 5 workers acquiring a free shard at once exactly one wins (20 shards)", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const workers = yield* Effect.forEach(workerIds, (id) => worker(id, longTtl))
        yield* race(stream, workers)
      }))

    it.scopedLive("race: of 5 workers acquiring an expired shard at once exactly one wins (20 shards)", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const workers = yield* Effect.forEach(workerIds, (id) => worker(id))
        const first = yield* race(stream, workers)
        yield* pastTtl
        const second = yield* race(stream, workers)
        for (const [i, lease] of second.entries()) assert.isAbove(lease.leaseCounter, first[i]!.leaseCounter)
      }))

    it.scopedLive("fencing: once the new owner has acquired, concurrent stale writes all fail and change nothing", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a")
        const b = yield* worker("worker-b", longTtl)
        const [old] = yield* acquireSome(a, stream, shard(0))
        yield* a.checkpoint(old, { sequenceNumber: seq(1) })
        yield* pastTtl
        const [lease] = yield* acquireSome(b, stream, shard(0))

        const stale = Array.from({ length: 10 }, (_, i) => a.checkpoint(old, { sequenceNumber: seq(1_000 + i) }))
        const results = yield* Effect.all(
          [
            ...stale.map(Effect.either),
            Effect.either(a.markEnded(old, { sequenceNumber: seq(2_000) })),
            Effect.either(Effect.asVoid(a.renew(old))),
            Effect.either(b.checkpoint(lease, { sequenceNumber: seq(2) }))
          ],
          { concurrency: "unbounded" }
        )
        const ownWrite = results[results.length - 1]!
        assert.isTrue(Either.isRight(ownWrite), "the new owner's checkpoint failed")
        for (const [i, result] of results.slice(0, -1).entries()) {
          assert.isTrue(Either.isLeft(result), `stale write #${i} succeeded`)
          if (Either.isLeft(result)) assert.strictEqual(result.left._tag, "LeaseLost")
        }
        const now = yield* getSome(b, stream, shard(0))
        assert.strictEqual(now.owner, "worker-b")
        assert.strictEqual(now.leaseCounter, lease.leaseCounter)
        assert.strictEqual(now.ended, false)
        assertCheckpoint(now.checkpoint, { sequenceNumber: seq(2) }, "after the stale writes")
      }))

    it.scopedLive("fencing race: stale checkpoints racing the new owner's acquire never land after it", () =>
      Effect.gen(function*() {
        const { stream, worker } = yield* setup
        const a = yield* worker("worker-a")
        const b = yield* worker("worker-b", longTtl)
        const ids = Array.from({ length: 10 }, (_, i) => shard(i))
        const olds = yield* Effect.forEach(
          ids,
          (shardId) =>
            Effect.tap(acquireSome(a, stream, shardId), ([old]) => a.checkpoint(old, { sequenceNumber: seq(1) }))
        )
        yield* pastTtl

        yield* Effect.forEach(ids, (shardId, i) =>
          Effect.gen(function*() {
            const [old] = olds[i]!
            const staleSeqs = [seq(100), seq(101), seq(102)]
            // the writes and the acquire start at staggered points, so that over the shards they interleave
            // every way (on a server, the network staggers them further)
            const { acquired, writes } = yield* Effect.all({
              writes: Effect.all(
                staleSeqs.map((sequenceNumber, j) =>
                  Effect.zipRight(yields(j), Effect.either(a.checkpoint(old, { sequenceNumber })))
                ),
                { concurrency: "unbounded" }
              ),
              acquired: Effect.zipRight(yields(i % 4), acquireSome(b, stream, shardId))
            }, { concurrency: "unbounded" })
            const [lease, state] = acquired
            const landed = new Set<string>()
            for (const [j, write] of writes.entries()) {
              if (Either.isRight(write)) landed.add(staleSeqs[j]!)
              else assert.strictEqual(write.left._tag, "LeaseLost", `${shardId}: stale write #${j}`)
            }
            // A stale write that succeeded took effect before the acquire, so the acquire saw it (or a later
            // stale one); when none succeeded, the acquire saw the last checkpoint of the old owner.
            const seen = state.checkpoint?.sequenceNumber
            if (landed.size === 0) assert.strictEqual(seen, seq(1), `${shardId}: acquire saw a stale write that failed`)
            else assert.isTrue(seen !== undefined && landed.has(seen), `${shardId}: acquire missed a stale write`)
            // the new owner's lease is intact: its checkpoint holds and nothing stale lands after it
            yield* b.checkpoint(lease, { sequenceNumber: seq(500) })
            yield* assertLeaseLost("a later stale checkpoint", a.checkpoint(old, { sequenceNumber: seq(103) }), old, {
              owner: "worker-b",
              leaseCounter: lease.leaseCounter
            })
            assertCheckpoint((yield* getSome(b, stream, shardId)).checkpoint, { sequenceNumber: seq(500) }, shardId)
          }), { concurrency: "unbounded" })
      }))
  })
}
