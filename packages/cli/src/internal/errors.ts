/**
 * The CLI's own errors, and how every failure becomes one line on stderr and an exit code.
 *
 * @internal
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { docText } from "./help.js"

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
 * Nothing answered within `--timeout`: `tail` before its consumer made contact (listed the shards, took
 * its leases), `status` before the first status. `lastError` is the last typed error seen while retrying
 * (reported in its place), if any was: none means every call was still waiting for an answer.
 *
 * @internal
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  /** What was waited for, e.g. `Kinesis (http://127.0.0.1:4567)`. */
  readonly waitingFor: string
  readonly timeout: Duration.Duration
  readonly lastError: unknown
}> {
  override get message(): string {
    return `no answer from ${this.waitingFor} within ${Duration.format(this.timeout)}`
  }
}

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
 * `consumers deregister`: no consumer of that name on the stream (or of that ARN): exit code 1.
 *
 * @internal
 */
export class ConsumerNotFound extends Data.TaggedError("ConsumerNotFound")<{
  /** `app on orders`, or the consumer's ARN. */
  readonly consumer: string
}> {
  override get message(): string {
    return `no consumer ${this.consumer}`
  }
}

/**
 * `consumers register`: the consumer is not ACTIVE within `--timeout` (still CREATING), or it is being
 * deregistered (DELETING) and cannot become ACTIVE: exit code 1.
 *
 * @internal
 */
export class ConsumerNotActive extends Data.TaggedError("ConsumerNotActive")<{
  readonly consumer: string
  /** The stream as given. */
  readonly stream: string
  readonly status: string
  /** When the wait timed out. */
  readonly timeout?: Duration.Duration | undefined
}> {
  override get message(): string {
    return this.timeout === undefined
      ? `consumer ${this.consumer} on ${this.stream} is ${this.status}: it is being deregistered`
      : `consumer ${this.consumer} on ${this.stream} is still ${this.status} after ${
        Duration.format(this.timeout)
      } (--timeout)`
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
  /** What is printed to stderr (one line). */
  readonly line: string
  readonly code: number
}

/** Where a failure happened: the sub-command given on the command line, if any (for the usage hint). @internal */
export interface ReportContext {
  readonly command?: string | undefined
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
  ConsumerNotFound:
    "check --name (or --arn), --stream and --region (and --endpoint); `effect-kinesis consumers list --stream STREAM` lists a stream's consumers",
  ConsumerNotActive:
    "a consumer takes a few seconds to register: raise --timeout or check it with `effect-kinesis consumers list`; one being deregistered can be registered again once it is gone",
  ConfigError: "an environment variable (AWS_REGION, KINESIS_ENDPOINT, KINESIS_MAX_ATTEMPTS, ...) has an invalid value",
  Timeout:
    "check --endpoint (a server that accepts connections but never answers?), --region and connectivity, or raise --timeout"
}

/** Hints of a `KinesisConfigError`, by its reason. */
const configHints: Record<string, string> = {
  RegionMissing: "pass --region, or set AWS_REGION (or a region in your AWS profile)",
  CredentialsNotFound:
    "set AWS_PROFILE (after `aws sso login` / `aws configure`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against a local server any keys do",
  EndpointUnreachable:
    "check --endpoint (host and port), that the server is running and reachable, and --region for AWS's endpoint"
}

/** The hint of a failure: by its tag, and for some by what it carries (a config error's reason, the denied action). */
const hintFor = (error: object, tag: string): string | undefined => {
  if (tag === "KinesisConfigError") {
    const reason = stringField(error, "reason")
    return reason === undefined ? undefined : configHints[reason]
  }
  if (tag === "AccessDenied") {
    const operation = stringField(error, "operation")
    if (operation !== undefined) {
      const action = stringField(error, "action") ??
        `kinesis:${operation.charAt(0).toUpperCase()}${operation.slice(1)}`
      return `the credentials may not call ${action}${
        stringField(error, "stream") === undefined ? "" : ` on ${stringField(error, "stream")}`
      }: check AWS_PROFILE / AWS_ACCESS_KEY_ID and that the IAM policy allows ${action}`
    }
  }
  return hints[tag]
}

/** `run \`effect-kinesis tail --help\`` @internal */
export const helpHint = (context: ReportContext): string =>
  `run \`effect-kinesis${context.command === undefined ? "" : ` ${context.command}`} --help\``

/** The one line of a usage error (exit code 2). @internal */
export const usageLine = (message: string, context: ReportContext): string =>
  `effect-kinesis: UsageError: ${oneLine(message)} (hint: ${helpHint(context)})`

/** Whitespace (newlines too) collapsed, at most `max` characters. @internal */
export const oneLine = (text: string, max = 400): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const stringField = (u: object, key: string): string | undefined => {
  const value = Predicate.hasProperty(u, key) ? u[key] : undefined
  return typeof value === "string" && value.length > 0 ? value : undefined
}

const describe = (error: object, tag: string): { readonly text: string; readonly where: string } => {
  const message = oneLine(stringField(error, "message") ?? "")
  const operation = stringField(error, "operation")
  const stream = stringField(error, "stream")
  const where = operation === undefined ? "" : stream === undefined ? ` (${operation})` : ` (${operation} ${stream})`
  return { text: `${tag}: ${message.length === 0 ? "failed" : message}`, where }
}

/** The line and exit code of one failure value. @internal */
export const reportError = (error: unknown, context: ReportContext = {}): Report => {
  if (ValidationError.isValidationError(error)) {
    // normally reported before the command runs (see commandLine.ts); this is the fallback
    return { line: usageLine(docText(error.error), context), code: ExitCode.usage }
  }
  if (ConfigError.isConfigError(error)) {
    return {
      line: `effect-kinesis: ConfigError: ${oneLine(String(error))} (hint: ${hints.ConfigError})`,
      code: ExitCode.failure
    }
  }
  if (
    error instanceof Timeout && Predicate.isObject(error.lastError) && Predicate.hasProperty(error.lastError, "_tag")
  ) {
    // the last typed error seen, and that it went on until the timeout
    const last = error.lastError
    const tag = String(last._tag)
    const { text, where } = describe(last, tag)
    const hint = hintFor(last, tag)
    return {
      line: `effect-kinesis: ${text}${where}; still failing after ${Duration.format(error.timeout)} (--timeout)` +
        (hint === undefined ? "" : ` (hint: ${hint})`),
      code: ExitCode.failure
    }
  }
  if (Predicate.isObject(error) && Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") {
    const tag = error._tag
    if (tag === "UsageError") {
      return { line: usageLine(stringField(error, "message") ?? "", context), code: ExitCode.usage }
    }
    const { text, where } = describe(error, tag)
    const hint = hintFor(error, tag)
    return {
      line: `effect-kinesis: ${text}${where}` + (hint === undefined ? "" : ` (hint: ${hint})`),
      code: tag === "InvalidStreamAddress" ? ExitCode.usage : ExitCode.failure
    }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { line: `effect-kinesis: unexpected error: ${oneLine(message)}`, code: ExitCode.failure }
}

/** The report of a failed run's `Cause` (the first typed failure wins; else the first defect). @internal */
export const reportCause = <E>(cause: Cause.Cause<E>, context: ReportContext = {}): Report => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return reportError(failure.value, context)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return reportError(defect.value, context)
  return { line: `effect-kinesis: unexpected error: ${oneLine(Cause.pretty(cause))}`, code: ExitCode.failure }
}
