/**
 * A translating front for kinesalite: an HTTP server that answers CBOR requests
 * (`application/x-amz-cbor-1.1`) as AWS does, by asking kinesalite over JSON, and forwards every other
 * request unchanged.
 *
 * kinesalite's own CBOR is broken: its CBOR responses are cut at 16 KiB (cbor@5's `encodeOne` returns
 * only what fits a stream's high-water mark), and it stores data written over CBOR JSON-serialised, to
 * return it as `{ type: "Buffer", data: [...] }`. Over JSON it is right. So a CBOR request is decoded,
 * its byte strings (record `Data`) turned into base64 and its timestamps into epoch seconds, sent to
 * kinesalite as `application/x-amz-json-1.1`, and the JSON answer re-encoded in CBOR: `Data` as byte
 * strings, timestamps (kinesalite's float epoch seconds) as integer epoch milliseconds — what the AWS
 * SDK for Java reads over CBOR — and errors as `{ __type, message }` maps with their status.
 *
 * Bodies are read whole before they are forwarded, and a forwarded request is never cut: kinesalite
 * throws an uncaught exception (ending the process) when a request's connection closes mid-body.
 *
 * @internal
 */
import { cbor, tagSymbol } from "@smithy/core/cbor"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import { pipeline } from "node:stream"
import type { LocalServerError } from "../LocalServerError.js"
import * as net from "./net.js"

const AMZ_CBOR = "application/x-amz-cbor-1.1"
const AMZ_JSON = "application/x-amz-json-1.1"

/** kinesalite's own limit: it answers a bigger request 413. */
const MAX_REQUEST_BYTES = 7 * 1024 * 1024

/** How long closing waits for requests already sent to kinesalite to be answered. */
const DRAIN_TIMEOUT = "2 seconds"

/** Headers of one connection, not of the message (RFC 9110 §7.6.1), and the body's framing, set anew. */
const notForwarded = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "transfer-encoding",
  "content-length"
])

const forwardedHeaders = (headers: Http.IncomingHttpHeaders): Http.OutgoingHttpHeaders => {
  const out: Http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !notForwarded.has(name)) out[name] = value
  }
  return out
}

/** `application/x-amz-cbor-1.1; charset=…` → `application/x-amz-cbor-1.1` */
const mediaType = (header: string | undefined): string => (header ?? "").split(";")[0]!.trim().toLowerCase()

const isTimestampKey = (key: string | undefined): boolean => key !== undefined && key.endsWith("Timestamp")

interface Tagged {
  readonly tag: unknown
  readonly value: unknown
}

const isTagged = (value: object): value is Tagged => (value as { readonly [tagSymbol]?: unknown })[tagSymbol] === true

/**
 * A request timestamp in epoch seconds (kinesalite's JSON): clients send epoch milliseconds over CBOR
 * (the AWS SDK for Java) or epoch seconds (Smithy's RPCv2 CBOR); 1e11 is 5138 in seconds, 1973 in ms.
 */
const epochSeconds = (n: number): number => Math.abs(n) >= 1e11 ? n / 1000 : n

/** A decoded CBOR request as JSON: byte strings in base64, timestamps in epoch seconds, tags unwrapped. */
const requestToJson = (value: unknown, key: string | undefined): unknown => {
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")
  }
  if (typeof value === "bigint") return isTimestampKey(key) ? epochSeconds(Number(value)) : Number(value)
  if (typeof value === "number") return isTimestampKey(key) ? epochSeconds(value) : value
  if (Array.isArray(value)) return value.map((item) => requestToJson(item, undefined))
  if (typeof value === "object" && value !== null) {
    if (isTagged(value)) return requestToJson(value.value, key)
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = requestToJson(v, k)
    }
    return out
  }
  return value
}

/**
 * A CBOR request body as the JSON body kinesalite needs. An empty body stays empty and one that is not
 * CBOR becomes `null`: kinesalite then answers them as it would over CBOR (a `SerializationException`).
 */
export const cborRequestToJson = (body: Uint8Array): Buffer => {
  if (body.length === 0) return Buffer.alloc(0)
  let decoded: unknown
  try {
    decoded = cbor.deserialize(body)
  } catch {
    return Buffer.from("null")
  }
  return Buffer.from(JSON.stringify(requestToJson(decoded, undefined)) ?? "null")
}

/** A JSON response as AWS sends it over CBOR: `Data` as byte strings, timestamps as integer epoch ms. */
const responseToCbor = (value: unknown, key: string | undefined): unknown => {
  if (typeof value === "string" && key === "Data") return Buffer.from(value, "base64")
  if (typeof value === "number" && isTimestampKey(key)) return Math.round(value * 1000)
  if (Array.isArray(value)) return value.map((item) => responseToCbor(item, undefined))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = responseToCbor(v, k)
    }
    return out
  }
  return value
}

/** kinesalite's JSON response body in CBOR, or `undefined` if it is not JSON (left as it is). */
export const jsonResponseToCbor = (body: Buffer): Uint8Array | undefined => {
  try {
    return cbor.serialize(responseToCbor(JSON.parse(body.toString("utf8")), undefined))
  } catch {
    return undefined
  }
}

/** The connections to kinesalite, and the requests on them still waiting for an answer. */
interface Upstream {
  readonly port: number
  readonly agent: Http.Agent
  inFlight: number
  readonly idle: Set<() => void>
}

const settled = (upstream: Upstream) => {
  upstream.inFlight--
  if (upstream.inFlight === 0) {
    for (const resume of upstream.idle) resume()
    upstream.idle.clear()
  }
}

/** Waits (up to `DRAIN_TIMEOUT`) for every forwarded request to be answered, then closes the connections. */
const closeUpstream = (upstream: Upstream): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (upstream.inFlight === 0) return resume(Effect.void)
    const done = () => resume(Effect.void)
    upstream.idle.add(done)
    return Effect.sync(() => upstream.idle.delete(done))
  }).pipe(
    Effect.timeoutOption(DRAIN_TIMEOUT),
    Effect.zipRight(Effect.sync(() => upstream.agent.destroy()))
  )

const sendBadGateway = (res: Http.ServerResponse, error: Error) => {
  if (res.writableEnded) return
  if (res.headersSent) return res.destroy()
  const body = `kinesalite did not answer: ${error.message}`
  res.writeHead(502, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const responseHeaders = (response: Http.IncomingMessage): Http.OutgoingHttpHeaders => {
  const headers = forwardedHeaders(response.headers)
  if (response.headers["content-length"] !== undefined) headers["content-length"] = response.headers["content-length"]
  return headers
}

/** kinesalite's answer to a non-CBOR request, as it is. */
const passThrough = (response: Http.IncomingMessage, res: Http.ServerResponse) => {
  res.writeHead(response.statusCode ?? 502, responseHeaders(response))
  // the request was whole when kinesalite answered: dropping its connection now is safe
  pipeline(response, res, () => undefined)
}

/** kinesalite's JSON answer to a CBOR request, in CBOR. */
const answerInCbor = (response: Http.IncomingMessage, res: Http.ServerResponse) => {
  const chunks: Array<Buffer> = []
  response.on("data", (chunk: Buffer) => chunks.push(chunk))
  response.once("error", (error) => sendBadGateway(res, error))
  response.once("end", () => {
    const raw = Buffer.concat(chunks)
    const status = response.statusCode ?? 502
    const json = mediaType(response.headers["content-type"]) === AMZ_JSON
    // an empty answer (CreateStream, PutRecord…) stays empty, in CBOR
    const body = json ? raw.length === 0 ? raw : jsonResponseToCbor(raw) : undefined
    const headers = forwardedHeaders(response.headers)
    if (body === undefined) {
      headers["content-length"] = raw.length
      res.writeHead(status, headers)
      return res.end(raw)
    }
    headers["content-type"] = AMZ_CBOR
    headers["content-length"] = body.length
    res.writeHead(status, headers)
    res.end(body)
  })
}

const forward = (upstream: Upstream, req: Http.IncomingMessage, res: Http.ServerResponse, body: Buffer) => {
  const cborRequest = req.method === "POST" && mediaType(req.headers["content-type"]) === AMZ_CBOR
  const headers = forwardedHeaders(req.headers)
  const payload = cborRequest ? cborRequestToJson(body) : body
  if (cborRequest) headers["content-type"] = AMZ_JSON
  headers["content-length"] = payload.length
  upstream.inFlight++
  const request = Http.request(
    { host: "127.0.0.1", port: upstream.port, method: req.method, path: req.url, headers, agent: upstream.agent },
    (response) => cborRequest ? answerInCbor(response, res) : passThrough(response, res)
  )
  request.once("close", () => settled(upstream))
  request.once("error", (error) => sendBadGateway(res, error))
  request.end(payload)
}

const handler = (upstream: Upstream) => (req: Http.IncomingMessage, res: Http.ServerResponse) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let tooLarge = false
  req.on("data", (chunk: Buffer) => {
    if (tooLarge) return
    size += chunk.length
    if (size <= MAX_REQUEST_BYTES) return chunks.push(chunk)
    tooLarge = true
    chunks.length = 0
    res.writeHead(413, { "content-length": 0 })
    res.end()
  })
  // a client gone mid-body: nothing was forwarded, nothing to answer
  req.on("error", () => undefined)
  req.on("end", () => {
    if (!tooLarge) forward(upstream, req, res, Buffer.concat(chunks, size))
  })
}

/**
 * Listens the front on 127.0.0.1 (`port` 0 = any free port) for the kinesalite listening on
 * `kinesalitePort`. On release it stops accepting and closes its clients' connections, waits for the
 * requests it already sent to be answered, then closes its own connections to kinesalite.
 *
 * @internal
 */
export const listen = (
  kinesalitePort: number,
  port: number
): Effect.Effect<{ readonly server: Http.Server; readonly port: number }, LocalServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Upstream => ({
      port: kinesalitePort,
      agent: new Http.Agent({ keepAlive: true }),
      inFlight: 0,
      idle: new Set()
    })),
    closeUpstream
  ).pipe(
    Effect.flatMap((upstream) => net.listenScoped("kinesalite", () => Http.createServer(handler(upstream)), port))
  )
