/**
 * The `effect-kinesis` command line: the runbook tool for Kinesis Data Streams — `streams`,
 * `describe`, `status` (topology, lag, leases), `put`, `tail`, `bench` and `consumers` (enhanced
 * fan-out consumers: `list`, `register`, `deregister`).
 *
 * Every command takes `--region` and `--endpoint` (over `AWS_REGION` / `KINESIS_ENDPOINT` and the rest
 * of what `Kinesis.config` reads); a stream is given by name or by ARN. A failure prints one line
 * naming the typed error and a hint, and the process exits with one of the `ExitCode`s.
 *
 * @example
 * ```ts
 * import { Cli } from "@effect-kinesis/cli"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * // what `effect-kinesis describe orders --region eu-west-1` does, as an Effect that returns the exit code
 * const code = Cli.run(["node", "effect-kinesis", "describe", "orders", "--region", "eu-west-1"]).pipe(
 *   Effect.provide(NodeContext.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Fs from "node:fs"
import { parseDuration, processorNames, tailFormats } from "./internal/choices.js"
import * as CommandLine from "./internal/commandLine.js"
import { ExitCode as codes, reportCause, UsageError, usageLine } from "./internal/errors.js"
import * as Format from "./internal/format.js"
import * as Help from "./internal/help.js"

/**
 * The version `--version` prints: the package's own, read from its package.json (one directory up from
 * both `src/` and the compiled `dist/`), so a release never needs an edit here.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = (
  JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { readonly version: string }
).version

/**
 * The exit codes: `ok` 0; `failure` 1 (a typed error — service, checkpoint store, undelivered records,
 * bad input on stdin — or an unexpected one); `usage` 2 (the command line is wrong: unknown command or
 * option, bad value, missing argument, conflicting options, an invalid stream name or ARN); `sigint`
 * 130 and `sigterm` 143 (stopped by Ctrl-C / SIGTERM, after writing the checkpoints).
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode: {
  readonly ok: 0
  readonly failure: 1
  readonly usage: 2
  readonly sigint: 130
  readonly sigterm: 143
} = codes

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

const region = Options.text("region").pipe(
  Options.withPseudoName("REGION"),
  Options.withDescription(
    "AWS region (default: AWS_REGION, the profile, the ARN's region; us-east-1 for a local --endpoint)"
  ),
  Options.optional
)

const endpoint = Options.text("endpoint").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(
    "Kinesis endpoint URL, e.g. http://127.0.0.1:4567 for a local server (default: KINESIS_ENDPOINT). A local endpoint " +
      "without credentials in the environment gets dummy ones."
  ),
  Options.optional
)

const connection = { region, endpoint }

const json = (description: string) => Options.boolean("json").pipe(Options.withDescription(description))

const stream = Args.text({ name: "STREAM" }).pipe(Args.withDescription("the stream: a name or an ARN"))

const group = {
  group: Options.text("group").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("consumer group (needs --redis or --dynamodb-table)"),
    Options.optional
  ),
  redis: Options.text("redis").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("Redis checkpoint store, e.g. redis://127.0.0.1:6379"),
    Options.optional
  ),
  dynamodbTable: Options.text("dynamodb-table").pipe(
    Options.withPseudoName("TABLE"),
    Options.withDescription("DynamoDB checkpoint table (uses --region)"),
    Options.optional
  ),
  dynamodbEndpoint: Options.text("dynamodb-endpoint").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("DynamoDB endpoint URL, for a local DynamoDB"),
    Options.optional
  )
}

const processor = Options.choice("processor", processorNames).pipe(
  Options.withDescription(
    "how records are encoded: string, json, jsonLines, jsonList, msgpack, kplString, kplJson, bytes"
  ),
  Options.optional
)

/** A duration option (`30s`, `500ms`, `2m`, `1h`, or a number of seconds). */
const duration = (name: string, fallback: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(`${description}. Default ${fallback}; e.g. 500ms, 30s, 2m, or a number of seconds`),
    Options.withDefault(fallback),
    Options.mapEffect((input) =>
      Option.match(parseDuration(input), {
        onNone: () =>
          Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: '${input}' is not a duration (e.g. 30s)`))),
        onSome: Effect.succeed
      })
    )
  )

/** The default `--timeout` of `tail` and `status`. */
const CONTACT_TIMEOUT = "30s"

/** Loads a command's implementation when it runs (startup stays small). */
const load = <M, A, E, R>(
  loader: () => Promise<M>,
  f: (module: M) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.flatMap(Effect.promise(loader), f)

// ---------------------------------------------------------------------------------------------
// commands
// ---------------------------------------------------------------------------------------------

const streams = Command.make(
  "streams",
  { ...connection, json: json("print JSON") },
  (options) => load(() => import("./internal/streams.js"), (m) => m.streams(options))
).pipe(Command.withDescription("List the streams (every page) with status, mode and open shard count."))

const describe = Command.make(
  "describe",
  { ...connection, json: json("print JSON"), stream },
  (options) => load(() => import("./internal/streams.js"), (m) => m.describe(options))
).pipe(
  Command.withDescription(
    "Summary (status, mode, retention, encryption, open shards) and the shard table: id, hash range, parent and " +
      "adjacent parent, open or closed, with the lineage tree after a reshard."
  )
)

const status = Command.make(
  "status",
  {
    ...connection,
    ...group,
    json: json("print JSON (with --watch: one JSON document per line per refresh)"),
    watch: Options.boolean("watch").pipe(Options.withDescription("refresh in place until Ctrl-C")),
    interval: Options.float("interval").pipe(
      Options.withPseudoName("SECONDS"),
      Options.withDescription("seconds between refreshes with --watch"),
      Options.withDefault(5)
    ),
    scanLimit: Options.integer("scan-limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("without --group: records counted per shard at most"),
      Options.withDefault(10_000)
    ),
    timeout: duration(
      "timeout",
      CONTACT_TIMEOUT,
      "how long to wait for the first status (with --watch: for the first refresh that succeeds), then fail with " +
        "the last error"
    ),
    stream
  },
  (options) =>
    load(
      () => import("./internal/status.js"),
      (m) => m.status({ ...options, interval: Duration.millis(Math.round(options.interval * 1000)) })
    )
).pipe(
  Command.withDescription(
    "The shard tree (parents -> children) with, per shard: with --group, lag (first unprocessed record's age, " +
      "measured after the checkpoint), checkpoint and lease; without, the records held and the oldest's age."
  )
)

const put = Command.make(
  "put",
  {
    ...connection,
    json: json("each line is a JSON value (the record is that value)"),
    partitionKey: Options.text("partition-key").pipe(
      Options.withPseudoName("KEY"),
      Options.withDescription(
        "TEXT: one fixed key; field:NAME: the JSON field NAME (with --json; field:a.b for nested fields); " +
          "key:TEXT: the fixed key TEXT. Default: a made-up key, records spread evenly over the shards"
      ),
      Options.optional
    ),
    processor,
    quiet: Options.boolean("quiet").pipe(Options.withDescription("no progress on stderr")),
    stream
  },
  (options) => load(() => import("./internal/put.js"), (m) => m.put(options))
).pipe(
  Command.withDescription(
    "Put the lines of stdin (empty lines skipped) as records; progress on stderr, the count on stdout. Exits 1 " +
      "if a record was not delivered or a line is bad."
  )
)

const tail = Command.make(
  "tail",
  {
    ...connection,
    ...group,
    from: Options.text("from").pipe(
      Options.withPseudoName("POSITION"),
      Options.withDescription("where shards without a checkpoint start: trim-horizon, latest or timestamp:ISO-8601"),
      Options.withDefault("trim-horizon")
    ),
    processor,
    format: Options.choice("format", tailFormats).pipe(
      Options.withDescription(
        "raw: the value; json: one object per record; pretty: arrival, shard, sequence, key, value"
      ),
      Options.withDefault("raw" as const)
    ),
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("stop after this many records"),
      Options.optional
    ),
    timeout: duration(
      "timeout",
      CONTACT_TIMEOUT,
      "how long to wait for contact (the shards listed, the leases taken; failures are retried meanwhile), then " +
        "fail with the last error; once reading, a quiet stream is waited on without end"
    ),
    stream
  },
  (options) => load(() => import("./internal/tail.js"), (m) => m.tail(options))
).pipe(
  Command.withDescription(
    "Print records as they arrive, following reshards, until --limit or Ctrl-C; with --group, checkpoint what was " +
      "printed (Redis or DynamoDB; else in memory)."
  )
)

const bench = Command.make(
  "bench",
  {
    ...connection,
    stream: Options.text("stream").pipe(
      Options.withPseudoName("STREAM"),
      Options.withDescription("an existing stream to write to and read back (e.g. on AWS); its records stay"),
      Options.optional
    ),
    records: Options.integer("records").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("records to put"),
      Options.withDefault(20_000)
    ),
    size: Options.integer("size").pipe(
      Options.withPseudoName("BYTES"),
      Options.withDescription("bytes per record"),
      Options.withDefault(100)
    ),
    shards: Options.integer("shards").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("shards of the temporary stream"),
      Options.withDefault(2)
    ),
    timeout: duration("timeout", "120s", "how long the read phase may take"),
    json: json("print JSON"),
    local: Options.boolean("local").pipe(
      Options.withDescription(
        "use an embedded kinesalite (the default without --stream and --endpoint; ignores KINESIS_ENDPOINT); " +
          "needs the optional package @effect-kinesis/local"
      )
    )
  },
  (options) =>
    load(
      () => import("./internal/bench.js"),
      (m) => m.bench(options)
    )
).pipe(
  Command.withDescription(
    "Producer and consumer throughput (records/s): against an embedded kinesalite by default, a temporary stream on " +
      "--endpoint, or an existing --stream."
  )
)

const streamOption = Options.text("stream").pipe(
  Options.withPseudoName("STREAM"),
  Options.withDescription("the stream: a name or an ARN")
)

const consumerName = Options.text("name").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("the consumer's name (1 to 128 characters of a-z, A-Z, 0-9, '_', '-', '.')")
)

const consumersList = Command.make(
  "list",
  { ...connection, json: json("print JSON"), stream: streamOption },
  (options) => load(() => import("./internal/consumers.js"), (m) => m.list(options))
).pipe(
  Command.withDescription(
    "List the enhanced fan-out consumers registered on the stream (every page): name, status, ARN, creation time."
  )
)

const consumersRegister = Command.make(
  "register",
  {
    ...connection,
    json: json("print JSON"),
    stream: streamOption,
    name: consumerName,
    timeout: duration(
      "timeout",
      "60s",
      "how long to wait for the consumer to be ACTIVE (asked once a second), then fail"
    )
  },
  (options) => load(() => import("./internal/consumers.js"), (m) => m.register(options))
).pipe(
  Command.withDescription(
    "Register an enhanced fan-out consumer on the stream (one of that name already there is kept as it is), wait " +
      "until it is ACTIVE and print it."
  )
)

const consumersDeregister = Command.make(
  "deregister",
  {
    ...connection,
    json: json("print JSON"),
    stream: streamOption.pipe(Options.optional),
    name: consumerName.pipe(Options.optional),
    arn: Options.text("arn").pipe(
      Options.withPseudoName("ARN"),
      Options.withDescription("the consumer's ARN (instead of --stream and --name)"),
      Options.optional
    )
  },
  (options) => load(() => import("./internal/consumers.js"), (m) => m.deregister(options))
).pipe(
  Command.withDescription(
    "Deregister an enhanced fan-out consumer (by --stream and --name, or by --arn): its subscriptions end and it " +
      "stops being billed. A consumer that does not exist is an error."
  )
)

/** The `consumers` sub-commands, in the order of `withSubcommands`. */
const consumersSubcommands = ["list", "register", "deregister"]

const consumers = Command.make("consumers", {}, () =>
  Effect.fail(
    new UsageError({ message: `missing command: ${consumersSubcommands.join(", ")}` })
  )).pipe(
    Command.withDescription(
      "Enhanced fan-out consumers of a stream: list, register (and wait until ACTIVE), deregister."
    ),
    Command.withSubcommands([consumersList, consumersRegister, consumersDeregister])
  )

/** The sub-commands' names, in the order of `withSubcommands` (for the root's help and its errors). */
const subcommands = ["streams", "describe", "status", "put", "tail", "bench", "consumers"]

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-kinesis", {}, () =>
  Effect.fail(
    new UsageError({ message: "missing command: streams, describe, status, put, tail, bench or consumers" })
  )).pipe(
    Command.withDescription("The runbook tool for Kinesis Data Streams."),
    Command.withSubcommands([streams, describe, status, put, tail, bench, consumers])
  )

/** The sub-commands with sub-commands of their own (for their help and their errors). */
const groups: CommandLine.Groups = {
  consumers: { descriptor: consumers.descriptor, subcommands: consumersSubcommands }
}

const cli = Command.run(command, { name: "effect-kinesis", version })

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message])
    .map((part) =>
      typeof part === "string"
        ? part
        : Predicate.hasProperty(part, "_tag") && Predicate.hasProperty(part, "message")
        ? `${String(part._tag)}: ${String(part.message)}`
        : part instanceof Error
        ? part.message
        : Cause.isCause(part)
        ? Cause.pretty(part)
        : JSON.stringify(part) ?? String(part)
    )
    .join(" ")

/**
 * Log lines go to stderr (stdout carries the records and results), one line each.
 *
 * @since 0.1.0
 * @category logging
 */
export const logger: Logger.Logger<unknown, void> = Logger.make(({ logLevel, message }) => {
  process.stderr.write(`effect-kinesis: ${logLevel.label.toLowerCase()}: ${messageText(message).replace(/\n/g, " ")}\n`)
})

/** @effect/cli prints its parse errors with `Console.error`: they are reported here instead, as one line. */
const withoutConsoleErrors = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

/**
 * Runs the command line (`argv` as `process.argv`: runtime, script, then the arguments) and returns the
 * exit code. A failure is printed as one line on stderr first — an argument error as
 * `effect-kinesis: UsageError: … (hint: run \`effect-kinesis COMMAND --help\`)`, exit code 2 — and
 * interruption (Ctrl-C) is not caught, so the caller sees it. `--help` is wrapped to the terminal's
 * width (80 columns when stdout is not a terminal) and coloured only on a terminal without `NO_COLOR`.
 * Logs below warning level are shown with `--log-level info` / `debug`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
  const args = argv.slice(2)
  const context = { command: CommandLine.commandOf(command.descriptor, groups, args) }
  return CommandLine.read(command.descriptor, { name: "effect-kinesis", version, subcommands, groups }, args).pipe(
    Effect.flatMap((reading): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
      switch (reading._tag) {
        case "UsageError":
          return Effect.as(Format.errLine(usageLine(reading.message, context)), codes.usage)
        case "Help":
          return Effect.as(
            Format.out(Help.render(reading.page, CommandLine.config, Help.stdoutStyle())),
            codes.ok
          )
        case "Version":
          return Effect.as(Format.outLine(version), codes.ok)
        case "Run":
          return cli([
            ...argv.slice(0, 2),
            ...CommandLine.withLogLevelFirst(args, CommandLine.commandPath(command.descriptor, groups, args))
          ]).pipe(
            withoutConsoleErrors,
            // `--log-level` (applied by @effect/cli inside) overrides this default
            Logger.withMinimumLogLevel(LogLevel.Warning),
            Effect.as(codes.ok as number),
            Effect.catchAllCause((cause) => {
              if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
              const report = reportCause(cause, context)
              return Effect.as(Format.errLine(report.line), report.code)
            })
          )
      }
    }),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger))
  )
}
