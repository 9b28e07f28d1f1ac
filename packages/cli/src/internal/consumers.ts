/**
 * `effect-kinesis consumers list|register|deregister`: the enhanced fan-out consumers registered on a
 * stream (ListStreamConsumers; RegisterStreamConsumer, then DescribeStreamConsumer once a second until
 * ACTIVE; DeregisterStreamConsumer).
 *
 * @internal
 */
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type Connection, describeTarget, kinesisLayer, parseStream, retryThrottling } from "./connection.js"
import { ConsumerNotActive, ConsumerNotFound, Timeout, UsageError } from "./errors.js"
import * as Format from "./format.js"

/** How often `register` asks whether the consumer is ACTIVE yet. */
const POLL = Duration.seconds(1)

// Consumer names: 1-128 characters of [a-zA-Z0-9_.-] (Kinesis API reference, RegisterStreamConsumer).
const NAME = /^[a-zA-Z0-9_.-]{1,128}$/

/** Checks `--name` is a consumer name (a usage error otherwise). @internal */
export const parseConsumerName = (name: string): Effect.Effect<string, UsageError> =>
  NAME.test(name) ? Effect.succeed(name) : Effect.fail(
    new UsageError({
      message: `--name: '${name}' is not a consumer name (1 to 128 characters of a-z, A-Z, 0-9, '_', '-' and '.')`
    })
  )

const CONSUMER = "/consumer/"

/**
 * A consumer ARN, `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME/consumer/CONSUMER:TIMESTAMP`, and
 * its stream's address (for the region and the output); a usage error otherwise.
 *
 * @internal
 */
export const parseConsumerArn = (
  arn: string
): Effect.Effect<{ readonly consumerARN: string; readonly stream: StreamAddress.StreamAddress }, UsageError> => {
  const invalid = new UsageError({
    message:
      `--arn: '${arn}' is not a consumer ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME/consumer/CONSUMER:TIMESTAMP)`
  })
  const at = arn.lastIndexOf(CONSUMER)
  if (at < 0 || !/^[a-zA-Z0-9_.-]{1,128}:\d+$/.test(arn.slice(at + CONSUMER.length))) return Effect.fail(invalid)
  const stream = StreamAddress.fromArn(arn.slice(0, at))
  return stream._tag === "Right" ? Effect.succeed({ consumerARN: arn, stream: stream.right }) : Effect.fail(invalid)
}

/** The stream's ARN: the address's own, or DescribeStreamSummary's for a name. */
const streamArnOf = (address: StreamAddress.StreamAddress) =>
  address._tag === "StreamArn"
    ? Effect.succeed(address.arn)
    : Effect.map(retryThrottling(Kinesis.describeStreamSummary(address)), (summary) => summary.streamARN)

/** A consumer as `--json` prints it. */
const toJson = (consumer: Kinesis.StreamConsumer) => ({
  consumerName: consumer.consumerName,
  consumerARN: consumer.consumerARN,
  status: consumer.consumerStatus,
  createdAt: Format.iso(consumer.consumerCreationTimestamp),
  streamARN: consumer.streamARN
})

/** A consumer as a two-column table (as `describe` prints a stream). */
const consumerTable = (consumer: Kinesis.StreamConsumer): string =>
  Format.table(["Consumer", consumer.consumerName], [
    ["ARN", consumer.consumerARN],
    ["Status", consumer.consumerStatus],
    ["Stream", consumer.streamARN],
    ["Created", Format.iso(consumer.consumerCreationTimestamp)]
  ])

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface ListOptions extends Connection {
  readonly stream: string
  readonly json: boolean
}

/** The consumers registered on a stream (every page), by name. @internal */
export const list = (options: ListOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    return yield* Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const streamARN = yield* streamArnOf(address)
      const consumers = [...yield* retryThrottling(kinesis.listStreamConsumers(streamARN))]
        .sort((a, b) => a.consumerName.localeCompare(b.consumerName))
      if (options.json) {
        yield* Format.outLine(JSON.stringify(consumers.map(toJson), null, 2))
        return
      }
      if (consumers.length === 0) {
        yield* Format.outLine(`no consumers on ${options.stream}`)
        return
      }
      yield* Format.outLine(
        Format.table(
          ["NAME", "STATUS", "ARN", "CREATED"],
          consumers.map((c) => [
            c.consumerName,
            c.consumerStatus,
            c.consumerARN,
            Format.iso(c.consumerCreationTimestamp)
          ])
        )
      )
    }).pipe(Effect.provide(kinesisLayer(options, address)))
  })

// ---------------------------------------------------------------------------------------------
// register
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface RegisterOptions extends Connection {
  readonly stream: string
  readonly name: string
  readonly json: boolean
  /** Bounds the whole command: the registration and the wait until ACTIVE. */
  readonly timeout: Duration.Duration
}

/**
 * Registers a consumer (one of that name already there is taken as it is), waits until it is ACTIVE
 * (DescribeStreamConsumer once a second, within `--timeout`) and prints it.
 *
 * @internal
 */
export const register = (options: RegisterOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    const consumerName = yield* parseConsumerName(options.name)
    // the last state seen, for the message when the time is up
    const seen = yield* Ref.make(Option.none<Kinesis.StreamConsumer>())
    const registerAndWait = Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const streamARN = yield* streamArnOf(address)
      const describe = retryThrottling(kinesis.describeStreamConsumer({ streamARN, consumerName })).pipe(
        Effect.tap((consumer) => Ref.set(seen, Option.some(consumer)))
      )
      const [registered, alreadyRegistered] = yield* retryThrottling(
        kinesis.registerStreamConsumer({ streamARN, consumerName })
      ).pipe(
        Effect.map((consumer) => [consumer, false] as const),
        // the name is taken: that consumer is the one (registration is idempotent); else (the stream is
        // not ACTIVE) the service's error stands
        Effect.catchTag("ResourceInUse", (inUse) =>
          describe.pipe(
            Effect.map((consumer) => [consumer, true] as const),
            Effect.catchTag("ResourceNotFound", () => Effect.fail(inUse))
          ))
      )
      yield* Ref.set(seen, Option.some(registered))
      let consumer = registered
      while (consumer.consumerStatus !== "ACTIVE") {
        if (consumer.consumerStatus === "DELETING") {
          return yield* Effect.fail(
            new ConsumerNotActive({ consumer: consumerName, stream: options.stream, status: "DELETING" })
          )
        }
        yield* Effect.logInfo(`waiting for consumer ${consumerName} on ${options.stream} to be ACTIVE (CREATING)`)
        yield* Effect.sleep(POLL)
        consumer = yield* describe
      }
      return { consumer, alreadyRegistered }
    }).pipe(Effect.provide(kinesisLayer(options, address)))
    const { alreadyRegistered, consumer } = yield* registerAndWait.pipe(
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () =>
          new Timeout({ waitingFor: describeTarget(options), timeout: options.timeout, lastError: undefined })
      }),
      // answered, but not ACTIVE in time
      Effect.catchTag("Timeout", (timeout) =>
        Effect.flatMap(Ref.get(seen), (last): Effect.Effect<never, Timeout | ConsumerNotActive> =>
          Option.isNone(last) ? Effect.fail(timeout) : Effect.fail(
            new ConsumerNotActive({
              consumer: consumerName,
              stream: options.stream,
              status: last.value.consumerStatus,
              timeout: options.timeout
            })
          )))
    )
    if (options.json) {
      yield* Format.outLine(JSON.stringify({ ...toJson(consumer), alreadyRegistered }, null, 2))
      return
    }
    yield* Format.outLine(
      alreadyRegistered
        ? `consumer ${consumerName} was already registered on ${options.stream}`
        : `registered consumer ${consumerName} on ${options.stream}`
    )
    yield* Format.outLine(consumerTable(consumer))
  })

// ---------------------------------------------------------------------------------------------
// deregister
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface DeregisterOptions extends Connection {
  readonly stream: Option.Option<string>
  readonly name: Option.Option<string>
  readonly arn: Option.Option<string>
  readonly json: boolean
}

/** `--stream` and `--name`, or `--arn`: the consumer's address and its stream's (for the region). */
const resolveConsumer = (options: DeregisterOptions) =>
  Effect.gen(function*() {
    if (Option.isSome(options.arn)) {
      if (Option.isSome(options.stream) || Option.isSome(options.name)) {
        return yield* Effect.fail(new UsageError({ message: "give either --arn, or --stream and --name, not both" }))
      }
      const { consumerARN, stream } = yield* parseConsumerArn(options.arn.value)
      return { stream, label: consumerARN, lookup: Effect.succeed({ consumerARN }) }
    }
    if (Option.isNone(options.stream) || Option.isNone(options.name)) {
      return yield* Effect.fail(
        new UsageError({
          message: Option.isSome(options.stream)
            ? "--stream needs --name (the consumer to deregister)"
            : Option.isSome(options.name)
            ? "--name needs --stream (the stream it is registered on)"
            : "give the consumer: --stream and --name, or --arn"
        })
      )
    }
    const stream = yield* parseStream(options.stream.value)
    const consumerName = yield* parseConsumerName(options.name.value)
    return {
      stream,
      label: `${consumerName} on ${options.stream.value}`,
      lookup: Effect.map(streamArnOf(stream), (streamARN) => ({ streamARN, consumerName }))
    }
  })

/**
 * Deregisters a consumer and prints which (it is DELETING for a few seconds, then gone). A consumer that
 * does not exist is `ConsumerNotFound` (exit 1); one already DELETING is left as it is.
 *
 * @internal
 */
export const deregister = (options: DeregisterOptions) =>
  Effect.gen(function*() {
    const { label, lookup, stream } = yield* resolveConsumer(options)
    return yield* Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const address = yield* lookup
      const notFound = () => Effect.fail(new ConsumerNotFound({ consumer: label }))
      const consumer = yield* retryThrottling(kinesis.describeStreamConsumer(address)).pipe(
        Effect.catchTag("ResourceNotFound", notFound)
      )
      const already = consumer.consumerStatus === "DELETING"
      if (!already) {
        yield* retryThrottling(kinesis.deregisterStreamConsumer({ consumerARN: consumer.consumerARN })).pipe(
          Effect.catchTag("ResourceNotFound", notFound)
        )
      }
      if (options.json) {
        yield* Format.outLine(
          JSON.stringify({ ...toJson({ ...consumer, consumerStatus: "DELETING" }), alreadyDeleting: already }, null, 2)
        )
        return
      }
      yield* Format.outLine(
        already
          ? `consumer ${consumer.consumerName} on ${
            StreamAddress.format(stream)
          } was already being deregistered (DELETING): ${consumer.consumerARN}`
          : `deregistered consumer ${consumer.consumerName} from ${
            StreamAddress.format(stream)
          } (DELETING until it is gone): ${consumer.consumerARN}`
      )
    }).pipe(Effect.provide(kinesisLayer(options, stream)))
  })
