/**
 * Consumer groups in one process (KinesisTest + memory checkpointer over one store + TestClock):
 * fair share, hand-off, no moves in steady state, takeover after a worker dies, nothing lost.
 */
import { Checkpointer, Consumer, KinesisTest, Producer } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Stream, TestClock } from "effect"

const SESSION = "3 seconds"
const options = {
  stream: "s",
  // few distinct wake-up instants: TestClock.adjust costs wall time per instant
  idleDelay: "1 second",
  shardRefreshInterval: "5 seconds",
  checkpointInterval: "1 second"
} as const

/** Leases per live owner, from the store. */
const leasesByOwner = (store: Checkpointer.MemoryStore) =>
  Effect.gen(function*() {
    const probe = yield* Checkpointer.makeMemory({ store, workerId: "probe" })
    const now = yield* TestClock.currentTimeMillis
    const counts: Record<string, number> = {}
    for (const state of yield* probe.list("s")) {
      if (state.owner !== undefined && state.expiresAt > now) counts[state.owner] = (counts[state.owner] ?? 0) + 1
    }
    return counts
  })

const leaseCounters = (store: Checkpointer.MemoryStore) =>
  Effect.flatMap(
    Checkpointer.makeMemory({ store, workerId: "probe" }),
    (probe) => Effect.map(probe.list("s"), (list) => list.map((s) => `${s.shardId}:${s.leaseCounter}`).sort().join(","))
  )

/** A worker: a consumer recording the values it sees; `dead` makes its store calls fail (a crash). */
const worker = (
  store: Checkpointer.MemoryStore,
  workerId: string,
  seen: Ref.Ref<Array<number>>,
  dead?: Ref.Ref<boolean>
) => {
  const checkpointer = Layer.effect(
    Checkpointer.Checkpointer,
    Effect.map(
      Checkpointer.makeMemory({ store, workerId, sessionTimeout: SESSION }),
      (service): Checkpointer.Service => {
        if (dead === undefined) return service
        const guard = <X, E>(operation: string, effect: Effect.Effect<X, E>) =>
          Effect.flatMap(
            Ref.get(dead),
            (isDead): Effect.Effect<X, E | Checkpointer.CheckpointerError> =>
              isDead ? Effect.fail(new Checkpointer.CheckpointerError({ operation, message: "dead" })) : effect
          )
        return {
          ...service,
          acquire: (stream, shardId) => guard("acquire", service.acquire(stream, shardId)),
          renew: (lease) => guard("renew", service.renew(lease)),
          release: (lease) => guard("release", service.release(lease)),
          checkpoint: (lease, c) => guard("checkpoint", service.checkpoint(lease, c)),
          heartbeat: (stream) => guard("heartbeat", service.heartbeat(stream)),
          list: (stream) => guard("list", service.list(stream))
        }
      }
    )
  )
  return Consumer.stream<number>(options).pipe(
    Stream.runForEach((r) => Ref.update(seen, (list) => (list.push(r.value), list))),
    Effect.provide(checkpointer),
    Effect.fork
  )
}

const tick = (seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 4; i++) yield* TestClock.adjust("250 millis")
  })

describe("Consumer groups (in one process)", () => {
  it.effect("3 workers on 6 shards: fair share by hand-off, no moves in steady state, takeover after a crash", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const seen = yield* Ref.make<Array<number>>([])
      const produce = (from: number, to: number) =>
        Stream.range(from, to).pipe(Stream.run(Producer.sink<number>({ stream: "s", shardLimits: false })))
      yield* produce(1, 600)

      // a alone takes everything
      const a = yield* worker(store, "a", seen)
      yield* tick(2)
      assert.deepStrictEqual(yield* leasesByOwner(store), { a: 6 })

      // b and c join: hand-offs bring every worker to 2 within two lease periods
      const cDead = yield* Ref.make(false)
      const b = yield* worker(store, "b", seen)
      const c = yield* worker(store, "c", seen, cDead)
      yield* tick(6)
      assert.deepStrictEqual(yield* leasesByOwner(store), { a: 2, b: 2, c: 2 })

      // steady state: no lease changes hands (lease counters stay put) over a minute (10 minutes with
      // 1,000 shards and 50 workers: the balancing benchmark)
      const before = yield* leaseCounters(store)
      yield* produce(601, 900)
      yield* tick(60)
      assert.strictEqual(yield* leaseCounters(store), before)

      // c dies without a word: its leases expire and a and b take its shards
      yield* Ref.set(cDead, true)
      yield* produce(901, 1200)
      yield* tick(3 + 1 + 2) // sessionTimeout + a heartbeat + a round
      const after = yield* leasesByOwner(store)
      assert.deepStrictEqual(after, { a: 3, b: 3 })

      // every record produced was seen at least once
      yield* tick(3)
      const values = new Set(yield* Ref.get(seen))
      for (let n = 1; n <= 1200; n++) assert.isTrue(values.has(n), `${n} never delivered`)
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      yield* Fiber.interrupt(c)
    }).pipe(Effect.provide(KinesisTest.layer({ streams: { s: { shards: 6 } }, limits: false }))))
})
