/**
 * The in-memory Checkpointer: the conformance suite (real clock, one MemoryStore per case), then what
 * only the memory implementation has: lease and worker expiry on the TestClock, `layerMemory`, a
 * shared or private store, and the common option defaults.
 */
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as CheckpointerSuite from "@effect-kinesis/core/testing/CheckpointerSuite"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Option, TestClock } from "effect"

// One store per case: the suite gives every case its own namespace, and every worker of a case shares it.
const stores = new Map<string, Checkpointer.MemoryStore>()
const storeFor = (namespace: string): Checkpointer.MemoryStore => {
  let store = stores.get(namespace)
  if (store === undefined) {
    store = Checkpointer.makeMemoryStore()
    stores.set(namespace, store)
  }
  return store
}

CheckpointerSuite.run("Checkpointer.makeMemory (conformance)", {
  makeWorker: ({ namespace, ...options }) => Checkpointer.makeMemory({ ...options, store: storeFor(namespace) })
})

const acquired = (result: Option.Option<readonly [Checkpointer.Lease, Checkpointer.ShardState]>) =>
  Option.getOrElse(result, () => assert.fail("expected the lease to be acquired"))

describe("Checkpointer.makeMemory", () => {
  it.effect("a lease expires exactly sessionTimeout after acquire, on the TestClock", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const a = yield* Checkpointer.makeMemory({ store, workerId: "a", sessionTimeout: "10 seconds" })
      const b = yield* Checkpointer.makeMemory({ store, workerId: "b", sessionTimeout: "10 seconds" })
      const [lease, state] = acquired(yield* a.acquire("s", "shard-0"))
      assert.strictEqual(state.expiresAt, 10_000)

      yield* TestClock.adjust("9999 millis")
      assert.isTrue(Option.isNone(yield* b.acquire("s", "shard-0")))
      yield* TestClock.adjust("1 millis")
      const [taken, takenState] = acquired(yield* b.acquire("s", "shard-0"))
      assert.strictEqual(taken.leaseCounter, lease.leaseCounter + 1)
      assert.strictEqual(takenState.expiresAt, 20_000)

      const lost = yield* Effect.flip(a.checkpoint(lease, { sequenceNumber: "1" }))
      assert.deepStrictEqual(
        lost,
        new Checkpointer.LeaseLost({
          stream: "s",
          shardId: "shard-0",
          owner: "a",
          leaseCounter: lease.leaseCounter,
          currentOwner: "b",
          currentLeaseCounter: taken.leaseCounter
        })
      )
      assert.strictEqual(
        lost.message,
        `lease on s/shard-0 lost by a (counter 1): held by b (counter 2)`
      )
    }))

  it.effect("renew sets expiry to the TestClock's now plus sessionTimeout", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const a = yield* Checkpointer.makeMemory({ store, workerId: "a", sessionTimeout: "10 seconds" })
      const b = yield* Checkpointer.makeMemory({ store, workerId: "b", sessionTimeout: "10 seconds" })
      const [lease] = acquired(yield* a.acquire("s", "shard-0"))
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual((yield* a.renew(lease)).expiresAt, 16_000)
      yield* TestClock.adjust("6 seconds")
      assert.isTrue(Option.isNone(yield* b.acquire("s", "shard-0")))
      yield* TestClock.adjust("4 seconds")
      assert.isTrue(Option.isSome(yield* b.acquire("s", "shard-0")))
    }))

  it.effect("a worker's heartbeat expires after sessionTimeout, on the TestClock", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const a = yield* Checkpointer.makeMemory({ store, workerId: "a", sessionTimeout: "3 seconds" })
      yield* TestClock.adjust("1 second")
      yield* a.heartbeat("s")
      yield* TestClock.adjust("2999 millis")
      assert.deepStrictEqual(yield* a.workers("s"), [{ workerId: "a", lastSeen: 1_000, expiresAt: 4_000 }])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* a.workers("s"), [])
    }))

  it.effect("layerMemory provides the Checkpointer tag; two layers over one store share leases", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const lease = yield* Effect.gen(function*() {
        const checkpointer = yield* Checkpointer.Checkpointer
        assert.strictEqual(checkpointer.workerId, "a")
        assert.isTrue(Duration.equals(checkpointer.sessionTimeout, Duration.seconds(6)))
        assert.isTrue(Duration.equals(checkpointer.heartbeatInterval, Duration.seconds(2)))
        const [lease] = acquired(yield* checkpointer.acquire("s", "shard-0"))
        return lease
      }).pipe(Effect.provide(Checkpointer.layerMemory({ store, workerId: "a", sessionTimeout: "6 seconds" })))

      const other = yield* Effect.gen(function*() {
        const checkpointer = yield* Checkpointer.Checkpointer
        return yield* checkpointer.acquire("s", "shard-0")
      }).pipe(Effect.provide(Checkpointer.layerMemory({ store, workerId: "b", sessionTimeout: "6 seconds" })))
      assert.isTrue(Option.isNone(other))
      assert.strictEqual(store.shards.get("s")?.get("shard-0")?.owner, lease.owner)
    }))

  it.effect("without a store each checkpointer has its own, and a random workerId", () =>
    Effect.gen(function*() {
      const a = yield* Checkpointer.makeMemory()
      const b = yield* Checkpointer.makeMemory()
      assert.notStrictEqual(a.workerId, b.workerId)
      assert.match(a.workerId, /^worker-[a-z0-9]+$/)
      assert.isTrue(Duration.equals(a.sessionTimeout, Duration.seconds(30)))
      assert.isTrue(Duration.equals(a.heartbeatInterval, Duration.seconds(10)))
      assert.isTrue(Option.isSome(yield* a.acquire("s", "shard-0")))
      assert.isTrue(Option.isSome(yield* b.acquire("s", "shard-0")))
    }))

  it.effect("a token of another stream or shard is fenced, not applied", () =>
    Effect.gen(function*() {
      const a = yield* Checkpointer.makeMemory({ workerId: "a" })
      const [lease] = acquired(yield* a.acquire("s", "shard-0"))
      const result = yield* Effect.either(a.checkpoint({ ...lease, shardId: "shard-1" }, { sequenceNumber: "1" }))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "LeaseLost")
      const wrongStream = yield* Effect.either(a.checkpoint({ ...lease, stream: "t" }, { sequenceNumber: "1" }))
      assert.isTrue(Either.isLeft(wrongStream) && wrongStream.left._tag === "LeaseLost")
      assert.isTrue(Option.isNone(yield* a.get("s", "shard-1")))
      assert.deepStrictEqual(yield* a.list("t"), [])
    }))
})

describe("Checkpointer.resolveOptions", () => {
  it("heartbeatInterval defaults to a third of sessionTimeout (whole ms, at least 1)", () => {
    const defaults = Checkpointer.resolveOptions(undefined)
    assert.isTrue(Duration.equals(defaults.sessionTimeout, Duration.seconds(30)))
    assert.isTrue(Duration.equals(defaults.heartbeatInterval, Duration.seconds(10)))
    assert.match(defaults.workerId, /^worker-[a-z0-9]+$/)

    assert.strictEqual(
      Duration.toMillis(Checkpointer.resolveOptions({ sessionTimeout: "1 second" }).heartbeatInterval),
      333
    )
    assert.strictEqual(
      Duration.toMillis(Checkpointer.resolveOptions({ sessionTimeout: "2 millis" }).heartbeatInterval),
      1
    )
    assert.isTrue(
      Duration.equals(
        Checkpointer.resolveOptions({ sessionTimeout: "9 seconds", heartbeatInterval: "1 second" }).heartbeatInterval,
        Duration.seconds(1)
      )
    )
  })

  it("an explicit workerId is kept; otherwise it starts with the prefix", () => {
    assert.strictEqual(Checkpointer.resolveOptions({ workerId: "w-1" }, "redis").workerId, "w-1")
    assert.match(Checkpointer.resolveOptions({}, "redis").workerId, /^redis-[a-z0-9]+$/)
  })
})
