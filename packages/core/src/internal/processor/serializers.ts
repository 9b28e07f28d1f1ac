/**
 * The built-in serializers. Their functions throw on failure; the processor turns a thrown error into
 * an `EncodeError` / `DecodeError` carrying it as cause.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Packr } from "msgpackr"
import type { Serializer } from "../../Processor.js"
import { decodeUtf8, encodeUtf8 } from "./utf8.js"

export const bytes: Serializer<Uint8Array> = {
  encode: (value) => {
    if (!(value instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${describe(value)}`)
    return value
  },
  decode: (data) => data
}

export const string: Serializer<string> = {
  encode: (value) => {
    if (typeof value !== "string") throw new TypeError(`expected a string, got ${describe(value)}`)
    return encodeUtf8(value)
  },
  decode: decodeUtf8
}

export const json: Serializer<unknown> = {
  encode: (value) => {
    const text = JSON.stringify(value)
    // JSON.stringify returns undefined for undefined, functions and symbols
    if (typeof text !== "string") throw new TypeError(`${describe(value)} has no JSON representation`)
    return encodeUtf8(text)
  },
  decode: (data) => JSON.parse(decodeUtf8(data))
}

const packr = new Packr({ useRecords: false })

export const msgpack: Serializer<unknown> = {
  encode: (value) => packr.pack(value),
  decode: (data) => packr.unpack(data)
}

export const schema = <A, I>(
  schema: Schema.Schema<A, I, never>,
  base: Serializer<I> | Serializer<unknown>
): Serializer<A> => {
  const encode = Schema.encodeEither(schema)
  const decode = Schema.decodeUnknownEither(schema)
  return {
    encode: (value) => {
      const encoded = encode(value)
      if (Either.isLeft(encoded)) throw encoded.left
      return base.encode(encoded.right)
    },
    decode: (data) => {
      const decoded = decode(base.decode(data))
      if (Either.isLeft(decoded)) throw decoded.left
      return decoded.right
    }
  }
}

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : `a value of type ${typeof value}`
