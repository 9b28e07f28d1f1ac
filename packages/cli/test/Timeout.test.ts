/**
 * `tail` and `status` against an endpoint that refuses connections or accepts them and never answers:
 * they fail within `--timeout` (plus the process's start) with one typed line and exit code 1, instead
 * of retrying without end; `--log-level info` shows what is retried meanwhile.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { cli, type Result } from "./utils/process.js"

const TIMEOUT = 60_000
/** `--timeout` in these tests. */
const DEADLINE = "2s"
/** The process's start and stop on a loaded machine, on top of the deadline. */
const SLACK_MILLIS = 6_000

/** A loopback port with nothing listening on it. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
)

/** A server that accepts connections and never answers (holds every socket), for the scope. */
const silentServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly port: number; readonly connections: () => number; readonly stop: () => Promise<void> }>(
      (resolve, reject) => {
        const sockets: Array<Net.Socket> = []
        const server = Net.createServer((socket) => {
          sockets.push(socket)
          socket.on("error", () => {})
        })
        server.on("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          const stop = () =>
            new Promise<void>((done) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
          resolve({ port, connections: () => sockets.length, stop })
        })
      }
    )
  ),
  (server) => Effect.promise(server.stop)
)

const assertFailedInTime = (label: string, result: Result, line: RegExp) => {
  assert.strictEqual(result.code, 1, `${label}: ${result.stderr}`)
  assert.strictEqual(result.stdout, "", label)
  assert.match(result.stderr, line, label)
  assert.isBelow(result.millis, 2_000 + SLACK_MILLIS, `${label}: took ${result.millis} ms`)
}

/** One line: the typed error, its operation, and the hint. */
const oneLine = (body: string) => new RegExp(`^effect-kinesis: ${body} \\(hint: [^\\n]+\\)\\n$`)

describe.concurrent("--timeout (child processes)", () => {
  it.live(
    "against a closed port: tail fails with the last error once --timeout is up; status at once",
    () =>
      Effect.gen(function*() {
        const endpoint = `http://127.0.0.1:${yield* closedPort}`
        const [tail, status] = yield* Effect.all([
          cli(["tail", "orders", "--endpoint", endpoint, "--limit", "1", "--timeout", DEADLINE]),
          cli(["status", "orders", "--endpoint", endpoint, "--timeout", DEADLINE])
        ], { concurrency: 2 })
        // tail's consumer retries the refused connection until the deadline, then reports the last failure
        assertFailedInTime(
          "tail",
          tail,
          oneLine(
            `KinesisConfigError: cannot reach the Kinesis endpoint [^\\n]*ECONNREFUSED[^\\n]* \\(listShards orders\\); still failing after 2s \\(--timeout\\)`
          )
        )
        assert.isAtLeast(tail.millis, 2_000)
        // status does not retry a refused connection
        assertFailedInTime(
          "status",
          status,
          oneLine(`KinesisConfigError: cannot reach the Kinesis endpoint [^\\n]*ECONNREFUSED[^\\n]*\\(\\w+ orders\\)`)
        )
      }),
    TIMEOUT
  )

  it.live(
    "against a server that never answers: tail, status and status --watch fail with Timeout",
    () =>
      Effect.gen(function*() {
        const server = yield* silentServer
        const endpoint = `http://127.0.0.1:${server.port}`
        const results = yield* Effect.all([
          cli(["tail", "orders", "--endpoint", endpoint, "--timeout", DEADLINE]),
          cli(["status", "orders", "--endpoint", endpoint, "--timeout", DEADLINE]),
          cli(["status", "orders", "--endpoint", endpoint, "--timeout", DEADLINE, "--watch"])
        ], { concurrency: 3 })
        const line = oneLine(`Timeout: no answer from Kinesis \\(${endpoint.replace(/\./g, "\\.")}\\) within 2s`)
        results.forEach((result, i) => {
          assertFailedInTime(["tail", "status", "status --watch"][i]!, result, line)
          assert.isAtLeast(result.millis, 2_000)
        })
        assert.isAtLeast(server.connections(), 3, "the calls reached the server")
      }).pipe(Effect.scoped),
    TIMEOUT
  )

  it.live("--log-level info shows each retry before the failure", () =>
    Effect.gen(function*() {
      const endpoint = `http://127.0.0.1:${yield* closedPort}`
      const result = yield* cli([
        "tail",
        "orders",
        "--endpoint",
        endpoint,
        "--timeout",
        DEADLINE,
        "--log-level",
        "info"
      ])
      assert.strictEqual(result.code, 1, result.stderr)
      const lines = result.stderr.trimEnd().split("\n")
      assert.isAtLeast(lines.length, 2, result.stderr)
      for (const line of lines.slice(0, -1)) {
        assert.match(
          line,
          /^effect-kinesis: info: retrying listShards orders after KinesisConfigError: .*ECONNREFUSED/
        )
      }
      assert.match(lines.at(-1)!, /^effect-kinesis: KinesisConfigError: .*still failing after 2s \(--timeout\)/)
    }), TIMEOUT)
})
