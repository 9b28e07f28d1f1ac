/**
 * The consumer-group suite at the process level: real OS processes (a worker fixture built with
 * `GroupWorker.main`) share a kinesalite stream through a store-backed `Checkpointer`. Import it as
 * `@effect-kinesis/core/testing/GroupSuite` and register it with `run(name, options)`.
 *
 * One case walks the whole life of a group on a 6-shard stream while records are produced:
 * 2 workers split the shards evenly → a 3rd joins and gets its share by hand-off → one is killed with
 * SIGKILL and the survivors take its shards within sessionTimeout + a heartbeat (+ a listing round) →
 * it starts again and gets its share back → every record produced is delivered at least once, and
 * each key's first deliveries are in order. `runProcess` registers the same checks for
 * `Consumer.process`: two workers, one killed mid-flight, every record completed at least once.
 *
 * Needs `vitest` and `@effect/vitest` (optional peer dependencies of this package).
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Kinesis from "../Kinesis.js"
import * as Producer from "../Producer.js"

/**
 * How to run the group case against one checkpointer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The worker program: a file whose code calls `GroupWorker.main(checkpointerLayer)`. A `.js`/`.mjs`
   * file runs with plain `node`; a `.ts` file with `node --import tsx` (tsx must be installed), unless
   * `execArgv` says otherwise.
   */
  readonly workerScript: string
  /** Node options for the worker processes (default: `["--import", "tsx"]` for a `.ts` script, else none). */
  readonly execArgv?: ReadonlyArray<string>
  /** Environment for the worker's checkpointer (e.g. REDIS_URL, GROUP). */
  readonly env: (context: { readonly stream: string; readonly group: string }) => Record<string, string>
  readonly kinesalite: { readonly endpoint: string; readonly region: string }
  /** Default 3,000 ms. */
  readonly sessionTimeoutMs?: number
}

interface Worker {
  readonly id: string
  readonly child: ChildProcess
  reading: ReadonlyArray<string>
  exited: boolean
}

const SHARDS = 6
const KEYS = 60

/**
 * Registers the consumer-group case (a `describe` with one live test) for one checkpointer.
 *
 * @since 0.1.0
 * @category suites
 */
/** One case's stream, worker processes, producer and checks. */
const harness = (options: Options, mode: "stream" | "process") =>
  Effect.gen(function*() {
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 3_000
    const heartbeatMs = Math.floor(sessionTimeoutMs / 3)
    const execArgv = options.execArgv ?? (/\.[cm]?ts$/.test(options.workerScript) ? ["--import", "tsx"] : [])
    const streamName = `group-${process.pid}-${Date.now().toString(36)}`
    const group = `g-${Date.now().toString(36)}`
    const kinesis = Kinesis.layer({
      endpoint: options.kinesalite.endpoint,
      region: options.kinesalite.region,
      credentials: { accessKeyId: "local", secretAccessKey: "local" }
    })
    yield* Kinesis.createStream({ streamName, shardCount: SHARDS, waitUntilActive: true }).pipe(
      Effect.provide(kinesis)
    )

    // every delivery, in the order the parent saw them
    const deliveries: Array<{ readonly worker: string; readonly key: string; readonly n: number }> = []
    const workers = new Map<string, Worker>()
    /** What the workers logged (printed when the case fails). */
    const logs: Array<string> = []
    const start = (id: string) =>
      Effect.sync(() => {
        const child = spawn(process.execPath, [...execArgv, options.workerScript], {
          env: {
            ...process.env,
            ...options.env({ stream: streamName, group }),
            KINESIS_ENDPOINT: options.kinesalite.endpoint,
            KINESIS_REGION: options.kinesalite.region,
            STREAM: streamName,
            WORKER_ID: id,
            SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
            HEARTBEAT_MS: String(heartbeatMs),
            MODE: mode
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
        const worker: Worker = { id, child, reading: [], exited: false }
        child.on("exit", () => {
          worker.exited = true
          worker.reading = []
        })
        createInterface({ input: child.stderr! }).on("line", (line) => logs.push(`[${id}!] ${line}`))
        child.on("exit", (code, signal) => logs.push(`[${id}] exited with ${signal ?? code}`))
        createInterface({ input: child.stdout! }).on("line", (line) => {
          if (line.startsWith("D ")) {
            const [, , key, n] = line.split(" ")
            deliveries.push({ worker: id, key: key!, n: Number(n) })
          } else if (line.startsWith("S ")) {
            worker.reading = JSON.parse(line.slice(2)) as Array<string>
          } else {
            logs.push(`[${id}] ${line}`)
          }
        })
        workers.set(id, worker)
      })
    const stopAll = Effect.sync(() => {
      for (const w of workers.values()) if (!w.exited) w.child.kill("SIGKILL")
    })
    const shares = () => Array.from(workers.values()).filter((w) => !w.exited).map((w) => w.reading.length).sort()
    const waitFor = (what: string, condition: () => boolean, timeoutMs: number) =>
      Effect.gen(function*() {
        const started = Date.now()
        while (!condition()) {
          if (Date.now() - started > timeoutMs) {
            const tail = logs.filter((l) => !l.includes("NodeVersionSupportWarning")).slice(-40).join("\n")
            return assert.fail(
              `${what}: not reached within ${timeoutMs} ms (shares ${JSON.stringify(shares())})\n${tail}`
            )
          }
          yield* Effect.sleep("100 millis")
        }
        return Date.now() - started
      })

    // a producer writing { k, n } records with per-key increasing n, all along
    let produced = 0
    let producing = true
    const producer = yield* Stream.iterate(0, (n) => n + 1).pipe(
      Stream.schedule(Schedule.spaced("5 millis")),
      Stream.takeWhile(() => producing),
      Stream.map((n) => Producer.record({ k: `key-${n % KEYS}`, n }, { partitionKey: `key-${n % KEYS}` })),
      Stream.tap(() => Effect.sync(() => produced++)),
      Stream.run(Producer.sink({ stream: streamName, bufferTime: "50 millis" })),
      Effect.provide(kinesis),
      Effect.fork
    )

    /** Stops producing, then checks that every record produced was delivered, each key's first deliveries in order. */
    const everythingDelivered = Effect.gen(function*() {
      producing = false
      yield* Fiber.join(producer) // the sink completes once everything it was given is delivered
      const total = produced
      yield* waitFor(
        "every record produced is delivered",
        () => new Set(deliveries.map((d) => d.n)).size >= total,
        30_000
      )
      const seen = new Set<number>()
      const lastByKey = new Map<string, number>()
      for (const d of deliveries) {
        if (seen.has(d.n)) continue // at-least-once: a redelivery after the crash or a hand-off
        seen.add(d.n)
        const last = lastByKey.get(d.key) ?? -1
        assert.isAbove(d.n, last, `key ${d.key}: ${d.n} first delivered after ${last}`)
        lastByKey.set(d.key, d.n)
      }
      for (let n = 0; n < total; n++) assert.isTrue(seen.has(n), `record ${n} never delivered`)
      return total
    })

    return {
      sessionTimeoutMs,
      heartbeatMs,
      workers,
      deliveries,
      start,
      stopAll,
      shares,
      waitFor,
      everythingDelivered,
      produced: () => produced
    }
  })

/**
 * Registers the consumer-group case (a `describe` with one live test) for one checkpointer.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (name: string, options: Options): void => {
  describe(name, () => {
    it.live(
      "a group of worker processes: fair share, crash takeover, hand-off back, nothing lost",
      () =>
        Effect.gen(function*() {
          const h = yield* harness(options, "stream")
          yield* Effect.gen(function*() {
            yield* h.start("w1")
            yield* h.start("w2")
            yield* h.waitFor("2 workers share 6 shards 3/3", () => h.shares().join() === "3,3", 30_000)
            yield* h.start("w3")
            yield* h.waitFor("a 3rd worker gets its share by hand-off: 2/2/2", () =>
              h.shares().join() === "2,2,2", 30_000)

            // a crash: the survivors take the dead worker's shards once its leases expire
            h.workers.get("w3")!.child.kill("SIGKILL")
            const takeover = yield* h.waitFor(
              "survivors take the dead worker's shards",
              () =>
                h.shares().join() === "3,3",
              h.sessionTimeoutMs + h.heartbeatMs + 10_000
            )
            assert.isAtMost(takeover, h.sessionTimeoutMs + h.heartbeatMs + 3_000, "takeover time")

            // it comes back and gets its share back by hand-off
            yield* h.start("w3b")
            yield* h.waitFor("the restarted worker gets its share back: 2/2/2", () =>
              h.shares().join() === "2,2,2", 30_000)

            // stop producing; everything produced is delivered at least once
            yield* h.everythingDelivered
          }).pipe(Effect.ensuring(h.stopAll))
        }),
      { timeout: 180_000 }
    )
  })
}

/**
 * Registers the `Consumer.process` group case for one checkpointer: two worker processes run
 * `Consumer.startProcess` (concurrency 32, handlers of 0–5 ms) while records are produced; they share
 * the shards; one is killed with SIGKILL mid-flight and the other takes its shards from their
 * watermarks; every record produced completes at least once, each key's first completions in order.
 *
 * @since 0.2.0
 * @category suites
 */
export const runProcess = (name: string, options: Options): void => {
  describe(name, () => {
    it.live(
      "Consumer.process in two worker processes: shared shards, a crash mid-flight, nothing lost, per-key order",
      () =>
        Effect.gen(function*() {
          const h = yield* harness(options, "process")
          yield* Effect.gen(function*() {
            yield* h.start("p1")
            yield* h.start("p2")
            yield* h.waitFor("2 workers share 6 shards 3/3", () => h.shares().join() === "3,3", 30_000)
            yield* h.waitFor("both complete records", () => {
              const by = new Set(h.deliveries.map((d) => d.worker))
              return by.has("p1") && by.has("p2") && h.deliveries.length > 500
            }, 30_000)
            // a crash mid-flight: the survivor takes the dead worker's shards from their watermarks
            h.workers.get("p2")!.child.kill("SIGKILL")
            yield* h.waitFor(
              "the survivor takes every shard",
              () => h.shares().join() === "6",
              h.sessionTimeoutMs + h.heartbeatMs + 10_000
            )
            const total = yield* h.everythingDelivered
            assert.isAbove(total, 500) // both workers completed over 500 records before the crash
          }).pipe(Effect.ensuring(h.stopAll))
        }),
      { timeout: 120_000 }
    )
  })
}
