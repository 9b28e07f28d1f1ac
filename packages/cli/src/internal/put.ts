/**
 * `effect-kinesis put STREAM`: lines (or JSON lines) from stdin, produced through `Producer.sink`.
 *
 * @internal
 */
import type * as Kinesis from "@effect-kinesis/core/Kinesis"
import type * as Processor from "@effect-kinesis/core/Processor"
import * as Producer from "@effect-kinesis/core/Producer"
import type * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ProcessorName } from "./choices.js"
import { type Connection, kinesisLayer, parseStream } from "./connection.js"
import { InvalidInput, UsageError } from "./errors.js"
import * as Format from "./format.js"
import { select } from "./processors.js"

/** @internal */
export interface PutOptions extends Connection {
  readonly stream: string
  readonly json: boolean
  readonly partitionKey: Option.Option<string>
  readonly processor: Option.Option<ProcessorName>
  readonly quiet: boolean
}

/**
 * `--partition-key`: `field:PATH` takes the key from a JSON field (`--json` only; dots walk into
 * objects: `field:customer.id`), `key:TEXT` is the fixed key TEXT (for a key that itself starts with
 * `field:` or `key:`), anything else is a fixed key. Without it every record gets its own key (spread
 * evenly over the shards).
 *
 * @internal
 */
export type PartitionKeySpec =
  | { readonly _tag: "Random" }
  | { readonly _tag: "Fixed"; readonly key: string }
  | { readonly _tag: "Field"; readonly path: ReadonlyArray<string> }

/** @internal */
export const parsePartitionKey = (
  input: Option.Option<string>,
  json: boolean
): Effect.Effect<PartitionKeySpec, UsageError> => {
  if (Option.isNone(input)) return Effect.succeed({ _tag: "Random" })
  const text = input.value
  if (text.startsWith("field:")) {
    const path = text.slice("field:".length).split(".")
    if (path.some((part) => part.length === 0)) {
      return Effect.fail(new UsageError({ message: `--partition-key ${text}: give a field name, e.g. field:customer` }))
    }
    if (!json) {
      return Effect.fail(new UsageError({ message: `--partition-key ${text} reads a JSON field: it needs --json` }))
    }
    return Effect.succeed({ _tag: "Field", path })
  }
  const key = text.startsWith("key:") ? text.slice("key:".length) : text
  if (key.length === 0 || key.length > 256) {
    return Effect.fail(new UsageError({ message: "--partition-key must have 1 to 256 characters" }))
  }
  return Effect.succeed({ _tag: "Fixed", key })
}

const fieldKey = (value: unknown, path: ReadonlyArray<string>, line: number): string | InvalidInput => {
  let current: unknown = value
  for (const part of path) {
    if (typeof current !== "object" || current === null || !(part in current)) {
      return new InvalidInput({ line, reason: `no field ${path.join(".")} for the partition key` })
    }
    current = (current as Record<string, unknown>)[part]
  }
  if (typeof current === "string") {
    return current.length === 0
      ? new InvalidInput({ line, reason: `field ${path.join(".")} is an empty string` })
      : current
  }
  if (typeof current === "number" || typeof current === "boolean" || typeof current === "bigint") {
    return String(current)
  }
  return new InvalidInput({ line, reason: `field ${path.join(".")} is not a string or a number` })
}

interface Parsed {
  readonly value: unknown
}

const encoder = new TextEncoder()

/** Lines of stdin → records, with their 1-based line numbers (empty lines are skipped). */
const records = <A>(
  options: { readonly json: boolean; readonly key: PartitionKeySpec },
  toValue: (line: string, parsed: Parsed | undefined) => A
): Stream.Stream<A | Producer.ProducerRecord<A>, InvalidInput> =>
  NodeStream.stdin.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.zipWithIndex,
    Stream.filter(([line]) => line.trim().length > 0),
    Stream.mapEffect(([line, index]): Effect.Effect<A | Producer.ProducerRecord<A>, InvalidInput> => {
      const lineNumber = index + 1
      let parsed: Parsed | undefined
      if (options.json) {
        try {
          parsed = { value: JSON.parse(line) }
        } catch (error) {
          return Effect.fail(
            new InvalidInput({
              line: lineNumber,
              reason: `not JSON (${error instanceof Error ? error.message : error})`
            })
          )
        }
      }
      const value = toValue(line, parsed)
      switch (options.key._tag) {
        case "Random":
          return Effect.succeed(value)
        case "Fixed":
          return Effect.succeed(Producer.record(value, { partitionKey: options.key.key }))
        case "Field": {
          const key = fieldKey(parsed?.value, options.key.path, lineNumber)
          return typeof key === "string"
            ? Effect.succeed(Producer.record(value, { partitionKey: key }))
            : Effect.fail(key)
        }
      }
    })
  )

const progressEvery = (tty: boolean) => (tty ? "250 millis" : "2 seconds")

/** @internal */
export const put = (options: PutOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    const key = yield* parsePartitionKey(options.partitionKey, options.json)
    const name = Option.getOrElse(options.processor, (): ProcessorName => options.json ? "json" : "string")
    const selected = select(name)
    return yield* produce(address, options, key, selected).pipe(Effect.provide(kinesisLayer(options, address)))
  })

const produce = (
  address: StreamAddress.StreamAddress,
  options: PutOptions,
  key: PartitionKeySpec,
  selected: ReturnType<typeof select>
): Effect.Effect<void, InvalidInput | Producer.ProducerError, Kinesis.Kinesis> => {
  switch (selected.kind) {
    case "text":
      return run(
        address,
        options,
        key,
        selected.processor,
        (line, parsed) => parsed === undefined ? line : JSON.stringify(parsed.value)
      )
    case "json":
      return run(
        address,
        options,
        key,
        selected.processor,
        (line, parsed) => parsed === undefined ? line : parsed.value
      )
    case "bytes":
      return run(
        address,
        options,
        key,
        selected.processor,
        (line, parsed) => encoder.encode(parsed === undefined ? line : JSON.stringify(parsed.value))
      )
  }
}

const run = <A>(
  address: StreamAddress.StreamAddress,
  options: PutOptions,
  key: PartitionKeySpec,
  processor: Processor.Processor<A>,
  toValue: (line: string, parsed: Parsed | undefined) => A
) =>
  Effect.gen(function*() {
    const tty = Format.stderrIsTty()
    if (process.stdin.isTTY === true && !options.quiet) {
      yield* Format.errLine("put: reading records from stdin, one per line (Ctrl-D ends)")
    }
    const started = yield* Clock.currentTimeMillis
    let accepted = 0
    const progress = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const seconds = Math.max(0.001, (now - started) / 1000)
      const text = `put: ${Format.count(accepted)} records read (${Format.count(Math.round(accepted / seconds))}/s)`
      yield* tty ? Effect.sync(() => process.stderr.write(`\r\x1b[2K${text}`)) : Format.errLine(text)
    })
    const reporter = options.quiet
      ? undefined
      : yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep(progressEvery(tty)), progress)))
    const finish = Effect.gen(function*() {
      if (reporter !== undefined) yield* Fiber.interrupt(reporter)
      if (options.quiet) return
      const elapsed = (yield* Clock.currentTimeMillis) - started
      const rate = Math.round(accepted / Math.max(0.001, elapsed / 1000))
      if (tty) yield* Effect.sync(() => process.stderr.write("\r\x1b[2K"))
      yield* Format.errLine(
        `put: ${Format.count(accepted)} records read in ${Format.duration(elapsed)} (${Format.count(rate)}/s)`
      )
    })
    const target = address._tag === "StreamArn" ? address.arn : address.name
    yield* records({ json: options.json, key }, toValue).pipe(
      Stream.tap(() =>
        Effect.sync(() => {
          accepted++
        })
      ),
      Stream.run(Producer.sink({ stream: address, processor })),
      Effect.onExit(() => finish),
      Effect.tapErrorTag("PutRecordsFailed", (error) => {
        const failed = error.failures.reduce((n, f) => n + Math.max(1, f.records.length), 0)
        return Format.outLine(`${Math.max(0, accepted - failed)} records put to ${target} (${failed} not delivered)`)
      })
    )
    yield* Format.outLine(`${accepted} records put to ${target}`)
  })
