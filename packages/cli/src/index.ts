/**
 * The `effect-kinesis` command line: the runbook tool for Kinesis Data Streams — `streams`,
 * `describe`, `status` (topology, lag, leases), `put`, `tail`, `bench` and `consumers` (enhanced
 * fan-out consumers: `list`, `register`, `deregister`).
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The process entry of `effect-kinesis` (`bin/effect-kinesis.js` calls `main`): runs `Cli.run` on
 * Node with the exit codes of `Cli.ExitCode`. Importing this module does nothing by itself.
 *
 * @since 0.1.0
 */
export * as bin from "./bin.js"
