/**
 * The values of the choice options, kept apart from their implementations so that parsing the command
 * line loads nothing else.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** The `--processor` choices, as the `Processor` module names them. @internal */
export const processorNames = [
  "string",
  "json",
  "jsonLines",
  "jsonList",
  "msgpack",
  "kplString",
  "kplJson",
  "bytes"
] as const

/** @internal */
export type ProcessorName = typeof processorNames[number]

/** The `tail --format` choices. @internal */
export const tailFormats = ["raw", "json", "pretty"] as const

/** @internal */
export type TailFormat = typeof tailFormats[number]

/**
 * A duration option's value: `30s`, `500ms`, `2m`, `1h`, `1.5min`, `30 seconds`, or a number of seconds.
 *
 * @internal
 */
export const parseDuration = (input: string): Option.Option<Duration.Duration> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input)
  if (match === null) return Option.none()
  const value = Number(match[1])
  const unit = match[2]!.toLowerCase()
  const millis = unit === "ms" || unit.startsWith("milli")
    ? value
    : unit === "" || unit === "s" || unit.startsWith("sec")
    ? value * 1_000
    : unit === "m" || unit.startsWith("min")
    ? value * 60_000
    : unit === "h" || unit.startsWith("hour")
    ? value * 3_600_000
    : Number.NaN
  return Number.isFinite(millis) && millis > 0 ? Option.some(Duration.millis(millis)) : Option.none()
}
