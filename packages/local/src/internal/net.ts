/** @internal */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import type * as Http from "node:http"
import * as Net from "node:net"
import { LocalServerError } from "../LocalServerError.js"

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). @internal */
export const freePort: Effect.Effect<number, LocalServerError> = Effect.async<number, LocalServerError>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.once(
    "error",
    (cause) => resume(Effect.fail(new LocalServerError({ server: "port", message: "no free port", cause })))
  )
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Resolves once a TCP connection to host:port succeeds. @internal */
const tryConnect = (port: number, host: string) =>
  Effect.async<void, Error>((resume) => {
    const socket = Net.connect({ port, host })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.void)
    })
    socket.once("error", (error) => {
      socket.destroy()
      resume(Effect.fail(error))
    })
    return Effect.sync(() => socket.destroy())
  })

/** Waits (up to `timeout`) until something listens on host:port. @internal */
export const waitForPort = (server: string, port: number, timeout: Duration.DurationInput, host = "127.0.0.1") =>
  tryConnect(port, host).pipe(
    Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo(timeout))),
    Effect.mapError((cause) =>
      new LocalServerError({
        server,
        message: `${server} did not listen on ${host}:${port} within ${Duration.format(Duration.decode(timeout))}`,
        cause
      })
    )
  )

/** Listens an in-process http server on 127.0.0.1 (port 0 = any free port), closed with the scope. @internal */
export const listenScoped = (
  name: string,
  make: () => Http.Server,
  port = 0
): Effect.Effect<{ readonly server: Http.Server; readonly port: number }, LocalServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly port: number }, LocalServerError>((resume) => {
      const server = make()
      server.once(
        "error",
        (cause) =>
          resume(Effect.fail(new LocalServerError({ server: name, message: `${name} could not listen`, cause })))
      )
      server.listen(port, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed({ server, port: typeof address === "object" && address !== null ? address.port : port }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        // idle keep-alive sockets would hold close() open
        server.closeAllConnections()
      })
  )

/** Children still running, killed together if this process exits before their scopes close. */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * Spawns a child process for the scope: on release it gets SIGTERM, then SIGKILL after `killAfter`.
 * The child is also killed if this process exits first. @internal
 */
export const spawnScoped = (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions & { readonly killAfter?: Duration.DurationInput }
): Effect.Effect<ChildProcess, LocalServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, LocalServerError>((resume) => {
      const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options })
      let output = ""
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString("utf8")).slice(-4000)
      }
      child.stdout?.on("data", keep)
      child.stderr?.on("data", keep)
      // killed with this process if it exits without closing the scope (one listener for all children)
      liveChildren.add(child)
      if (!exitHookInstalled) {
        exitHookInstalled = true
        process.once("exit", () => {
          for (const c of liveChildren) c.kill("SIGKILL")
        })
      }
      child.once("exit", () => liveChildren.delete(child))
      child.once("error", (cause) =>
        resume(
          Effect.fail(
            new LocalServerError({ server: name, message: `${name} could not start: ${cause.message}`, cause })
          )
        ))
      child.once("spawn", () => resume(Effect.succeed(child)))
      Object.defineProperty(child, "recentOutput", {
        get: () => output
      })
    }),
    (child) => stopChild(child, options.killAfter ?? Duration.seconds(5))
  )

/** The last few KB a child wrote to stdout/stderr (for error messages). @internal */
export const recentOutput = (child: ChildProcess): string =>
  (child as ChildProcess & { readonly recentOutput?: string }).recentOutput ?? ""

const stopChild = (child: ChildProcess, killAfter: Duration.DurationInput) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), Duration.toMillis(killAfter))
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.kill("SIGTERM")
  })
