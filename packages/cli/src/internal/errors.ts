/**
 * The CLI's own errors, and how every failure becomes one line on stderr and an exit code.
 *
 * @internal
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/**
 * The command line is wrong in a way the parser cannot see (conflicting or incomplete options, a
 * value of the wrong shape): exit code 2.
 *
 * @internal
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {}

/**
 * A line read from stdin is not what the options say it is (not JSON with `--json`, no partition-key
 * field): exit code 1.
 *
 * @internal
 */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  /** 1-based line number on stdin. */
  readonly line: number
  readonly reason: string
}> {
  override get message(): string {
    return `line ${this.line}: ${this.reason}`
  }
}

/**
 * A command needs an optional package that is not installed beside the CLI (`bench` without
 * `--endpoint` or `--stream` needs `@effect-kinesis/local` for its embedded kinesalite).
 *
 * @internal
 */
export class MissingPackage extends Data.TaggedError("MissingPackage")<{
  /** The npm package to install. */
  readonly packageName: string
  /** What needs it, e.g. `bench --local`. */
  readonly feature: string
}> {
  override get message(): string {
    return `${this.feature} needs the optional package ${this.packageName}, which is not installed`
  }
}

/**
 * Imports an optional package's module, failing with `MissingPackage` when the package is not installed
 * (any other import failure is a defect).
 *
 * @internal
 */
export const importOptional = <A>(
  packageName: string,
  feature: string,
  load: () => Promise<A>
): Effect.Effect<A, MissingPackage> =>
  Effect.tryPromise({ try: load, catch: (cause) => cause }).pipe(
    Effect.catchAll((cause) =>
      Predicate.hasProperty(cause, "code") && cause.code === "ERR_MODULE_NOT_FOUND" &&
        String(Predicate.hasProperty(cause, "message") ? cause.message : "").includes(`'${packageName}`)
        ? Effect.fail(new MissingPackage({ packageName, feature }))
        : Effect.die(cause)
    )
  )

/** @internal */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  sigint: 130,
  sigterm: 143
} as const

/** @internal */
export interface Report {
  /** What is printed to stderr (one line), or `undefined` when it was printed already (by the parser). */
  readonly line: string | undefined
  readonly code: number
}

const hints: Record<string, string> = {
  ResourceNotFound: "check the stream name and --region (and --endpoint)",
  ResourceInUse: "the stream is being created, resharded or deleted: wait until it is ACTIVE and retry",
  AccessDenied:
    "check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) and that the IAM policy allows this kinesis action on the stream",
  ProvisionedThroughputExceeded: "the shard's read or write limit was exceeded: retry later, or add shards",
  LimitExceeded: "a control-plane rate or an account limit was hit: retry in a few seconds, or raise the quota",
  ExpiredIterator: "a shard iterator was used more than 5 minutes after it was issued: run the command again",
  ExpiredNextToken: "the listing took too long: run the command again",
  InvalidArgument: "the service rejected the request: check the arguments (stream name or ARN, --from timestamp)",
  KmsError: "the stream's KMS key cannot be used: check the key's state and its key policy",
  KinesisUnknownError: "the service or the network failed: check --endpoint, --region and connectivity, then retry",
  CheckpointerError: "the checkpoint store failed: check --redis / --dynamodb-table (the table must exist)",
  LeaseLost: "another worker of the group took the shard's lease",
  InvalidStreamAddress:
    "give a stream name ([a-zA-Z0-9_.-], at most 128 characters) or arn:aws:kinesis:REGION:ACCOUNT:stream/NAME",
  PutRecordsFailed:
    "these records were not delivered after every retry: the stream is throttled or failing; retry them, or add shards",
  InvalidPartitionKey: "a partition key must have 1 to 256 characters: check --partition-key and the input",
  EncodeError: "a value could not be encoded with the chosen --processor",
  RecordTooLarge: "a record (data + partition key) is over the stream's maximum record size (1 MiB by default)",
  DecodeError: "a record could not be decoded with the chosen --processor: try --processor string or bytes",
  InvalidInput: "with --json every non-empty line must be one JSON value, and field:NAME keys must exist",
  LocalServerError: "the embedded kinesalite could not start",
  MissingPackage: "install it beside the CLI (npm install @effect-kinesis/local), or give --endpoint",
  BenchIncomplete: "not every record came back in time: raise --timeout, or check the stream's consumers and retention",
  ConfigError: "an environment variable (AWS_REGION, KINESIS_ENDPOINT, KINESIS_MAX_ATTEMPTS, ...) has an invalid value",
  UsageError: "see --help"
}

const oneLine = (text: string, max = 400): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const stringField = (u: object, key: string): string | undefined => {
  const value = Predicate.hasProperty(u, key) ? u[key] : undefined
  return typeof value === "string" && value.length > 0 ? value : undefined
}

/** The line and exit code of one failure value. @internal */
export const reportError = (error: unknown): Report => {
  if (ValidationError.isValidationError(error)) {
    // @effect/cli printed the parse error (and the usage) already
    return { line: undefined, code: ExitCode.usage }
  }
  if (ConfigError.isConfigError(error)) {
    return {
      line: `effect-kinesis: ConfigError: ${oneLine(String(error))} (hint: ${hints.ConfigError})`,
      code: ExitCode.failure
    }
  }
  if (Predicate.isObject(error) && Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") {
    const tag = error._tag
    const message = oneLine(stringField(error, "message") ?? "")
    const operation = stringField(error, "operation")
    const stream = stringField(error, "stream")
    const where = operation === undefined ? "" : stream === undefined ? ` (${operation})` : ` (${operation} ${stream})`
    const hint = hints[tag]
    const code = tag === "UsageError" || tag === "InvalidStreamAddress" ? ExitCode.usage : ExitCode.failure
    const text = tag === "UsageError"
      ? `effect-kinesis: ${message} (see --help)`
      : `effect-kinesis: ${tag}: ${message.length === 0 ? "failed" : message}${where}` +
        (hint === undefined ? "" : ` (hint: ${hint})`)
    return { line: text, code }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { line: `effect-kinesis: unexpected error: ${oneLine(message)}`, code: ExitCode.failure }
}

/** The report of a failed run's `Cause` (the first typed failure wins; else the first defect). @internal */
export const reportCause = <E>(cause: Cause.Cause<E>): Report => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return reportError(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return reportError(defect.value)
  return { line: `effect-kinesis: unexpected error: ${oneLine(Cause.pretty(cause))}`, code: ExitCode.failure }
}
