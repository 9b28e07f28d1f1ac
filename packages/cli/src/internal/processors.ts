/**
 * The processors `--processor` names, and how a line of input or a decoded value maps to them.
 *
 * @internal
 */
import * as Processor from "@effect-kinesis/core/Processor"
import type { ProcessorName } from "./choices.js"

/** A processor and what kind of value it takes. @internal */
export type Selected =
  | { readonly kind: "text"; readonly processor: Processor.Processor<string> }
  | { readonly kind: "json"; readonly processor: Processor.Processor<unknown> }
  | { readonly kind: "bytes"; readonly processor: Processor.Processor<Uint8Array> }

/** @internal */
export const select = (name: ProcessorName): Selected => {
  switch (name) {
    case "string":
      return { kind: "text", processor: Processor.string }
    case "kplString":
      return { kind: "text", processor: Processor.kplString }
    case "json":
      return { kind: "json", processor: Processor.json }
    case "jsonLines":
      return { kind: "json", processor: Processor.jsonLines }
    case "jsonList":
      return { kind: "json", processor: Processor.jsonList }
    case "msgpack":
      return { kind: "json", processor: Processor.msgpack }
    case "kplJson":
      return { kind: "json", processor: Processor.kplJson }
    case "bytes":
      return { kind: "bytes", processor: Processor.bytes }
  }
}

/** A decoded value as one line of text: strings as they are, bytes in base64, anything else as JSON. @internal */
export const valueText = (value: unknown): string =>
  typeof value === "string"
    ? value
    : value instanceof Uint8Array
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")
    : JSON.stringify(value) ?? "undefined"

/** A decoded value for JSON output: bytes in base64, anything else as it is. @internal */
export const valueJson = (value: unknown): unknown =>
  value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") : value
