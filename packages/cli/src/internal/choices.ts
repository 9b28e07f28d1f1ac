/**
 * The values of the choice options, kept apart from their implementations so that parsing the command
 * line loads nothing else.
 *
 * @internal
 */

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
