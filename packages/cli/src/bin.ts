/**
 * The process entry of `effect-kinesis` (`bin/effect-kinesis.js` calls `main`): runs `Cli.run` on
 * Node with the exit codes of `Cli.ExitCode`. Importing this module does nothing by itself.
 *
 * Ctrl-C (SIGINT) or SIGTERM interrupts the command — a `tail` writes its checkpoints and releases its
 * leases, a `put` delivers what it accepted — and the process exits with 130 (143 for SIGTERM); a
 * second Ctrl-C exits at once. When stdout is closed early (`effect-kinesis tail s | head`), the
 * command stops the same way and exits with 0.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"

/**
 * Runs the CLI in this process and exits with its exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string> = process.argv): void => {
  let stop: "SIGINT" | "SIGTERM" | undefined
  let stdoutClosed = false
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    // a second signal while the first one's finalizers run: leave now
    if (stop !== undefined) process.exit(signal === "SIGINT" ? Cli.ExitCode.sigint : Cli.ExitCode.sigterm)
    stop = signal
  }
  // registered before runMain's own listeners, which interrupt the program
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") {
      // the reader went away (`| head`): stop as on SIGTERM, and quietly
      if (!stdoutClosed) {
        stdoutClosed = true
        if (stop === undefined) process.emit("SIGTERM", "SIGTERM")
      }
      return
    }
    process.stderr.write(`effect-kinesis: stdout failed: ${error.message}\n`)
    process.exit(Cli.ExitCode.failure)
  })

  Cli.run(argv).pipe(
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit, onExit) => {
        const code = Exit.isSuccess(exit) && typeof exit.value === "number"
          ? exit.value
          : Exit.isInterrupted(exit)
          ? stdoutClosed ? Cli.ExitCode.ok : stop === "SIGTERM" ? Cli.ExitCode.sigterm : Cli.ExitCode.sigint
          : Cli.ExitCode.failure
        process.exitCode = code
        // exit once the event loop is empty; should a handle linger, do not wait for it
        setTimeout(() => process.exit(code), 2_000).unref()
        onExit(code)
      }
    })
  )
}
