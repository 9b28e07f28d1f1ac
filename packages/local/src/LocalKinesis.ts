/**
 * Local Kinesis servers for demos and tests, as scoped Effects: kinesalite in-process (fast, the data
 * plane and split/merge) and kinesis-local (kinesis-mock) as a child process (slower, but with
 * StreamARN, ListShards pagination and ShardFilter, ChildShards, UpdateShardCount, ON_DEMAND and
 * per-record PutRecords failures). Both listen on 127.0.0.1 and stop when the scope closes.
 *
 * Clients must use HTTP/1.1 against them: `Kinesis.layer({ endpoint })` does so for `http://` endpoints.
 *
 * kinesalite answers CBOR (`application/x-amz-cbor-1.1`, the wire format of the AWS SDK for Java and of
 * this library's PutRecords and GetRecords) through a translating front. kinesalite's own CBOR is broken:
 * its CBOR responses are cut at 16 KiB, and data written over CBOR is stored JSON-serialised and read back
 * as `{ type: "Buffer", data: [...] }`; its JSON is right. The front, on the port clients get, asks
 * kinesalite over JSON and answers in CBOR as AWS does: record `Data` as byte strings, timestamps as
 * integer epoch milliseconds, errors as `{ __type, message }` maps with their HTTP status. Every other
 * request (JSON) is forwarded unchanged. This front makes CBOR requests work as on AWS.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import kinesaliteServer from "kinesalite"
import type * as Http from "node:http"
import { createRequire } from "node:module"
import * as Path from "node:path"
import * as cborFront from "./internal/cborFront.js"
import * as net from "./internal/net.js"
import type { LocalServerError } from "./LocalServerError.js"

/**
 * Where a local server listens, and the client settings it accepts.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  readonly port: number
  /** The region to configure clients with (local servers accept any). */
  readonly region: string
  /** Dummy credentials: local servers check that requests are signed, not by whom. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KinesaliteServer extends LocalEndpoint {
  /**
   * The in-process server clients connect to, on `port`: the front that translates CBOR for kinesalite
   * (which listens on another loopback port). Its connections are the clients' (e.g. to count them in a test).
   */
  readonly server: Http.Server
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KinesaliteOptions {
  /** Default: a free port. */
  readonly port?: number | undefined
  /** Total shards across all streams. Default 10,000 (kinesalite's own default is 10). */
  readonly shardLimit?: number | undefined
  /** Time a stream stays CREATING / DELETING / UPDATING. Default 0 ms. */
  readonly createStreamMs?: number | undefined
  readonly deleteStreamMs?: number | undefined
  readonly updateStreamMs?: number | undefined
}

const credentials = { accessKeyId: "local", secretAccessKey: "local" } as const
const region = "us-east-1"

/**
 * kinesalite, in this process, on 127.0.0.1. It keeps records in memory (about 3.7 KB of RSS per
 * 1 KiB record), so a test that writes hundreds of thousands of records should use its own instance.
 *
 * Clients reach it through a front on `port` that makes CBOR requests work as on AWS. kinesalite's own
 * CBOR is broken: it cuts CBOR responses at 16 KiB and returns data written over CBOR as
 * `{ type: "Buffer", data: [...] }`. The front decodes a CBOR request, sends it to kinesalite as JSON
 * (byte strings in base64, timestamps in epoch seconds) and answers in CBOR: record `Data` as byte
 * strings, timestamps (such as `ApproximateArrivalTimestamp`) as integer epoch milliseconds, errors as
 * `{ __type, message }` with their status. Other requests (JSON) and their answers pass unchanged.
 * Bodies are read whole before they are forwarded, up to kinesalite's 7 MiB limit (a bigger one is a
 * 413), which also applies to the JSON a CBOR request becomes (its record data a third bigger in base64):
 * a 5 MiB PutRecords fits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const kinesalite = (
  options: KinesaliteOptions = {}
): Effect.Effect<KinesaliteServer, LocalServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const backend = yield* net.listenScoped("kinesalite", () => {
      const server = kinesaliteServer({
        shardLimit: options.shardLimit ?? 10_000,
        createStreamMs: options.createStreamMs ?? 0,
        deleteStreamMs: options.deleteStreamMs ?? 0,
        updateStreamMs: options.updateStreamMs ?? 0
      })
      // only the front connects: its idle connections stay open until the scope closes (no reuse race)
      server.keepAliveTimeout = 0
      return server
    })
    const { port, server } = yield* cborFront.listen(backend.port, options.port ?? 0)
    return { endpoint: `http://127.0.0.1:${port}`, port, region, credentials, server }
  })

/**
 * A kinesalite started without Effect (`startKinesalite`): its endpoint, and `close` to stop it.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesaliteHandle extends KinesaliteServer {
  /** Stops the server (closing its connections); resolves when it is closed. */
  readonly close: () => Promise<void>
}

/**
 * `kinesalite(options)` for code that does not run this package's copy of Effect — a test runner's
 * global setup, or a bundled program such as the `effect-kinesis` CLI. Rejects with `LocalServerError`.
 * Like `kinesalite`, it answers CBOR through its translating front, as AWS does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startKinesalite = async (options: KinesaliteOptions = {}): Promise<KinesaliteHandle> => {
  const scope = Effect.runSync(Scope.make())
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  const exit = await Effect.runPromiseExit(Scope.extend(kinesalite(options), scope))
  if (Exit.isSuccess(exit)) return { ...exit.value, close }
  await close()
  throw Cause.squash(exit.cause)
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KinesisLocalOptions {
  /** Plain HTTP port. Default: a free port. */
  readonly port?: number | undefined
  /** Time a stream stays CREATING / DELETING / UPDATING (split, merge, update shard count). Default 50 ms. */
  readonly stateChangeDuration?: Duration.DurationInput | undefined
  /** Total shards. Default 1,000. */
  readonly shardLimit?: number | undefined
  /** How long to wait for it to listen. Default 30 s. */
  readonly startTimeout?: Duration.DurationInput | undefined
}

/**
 * kinesis-local (kinesis-mock compiled to JavaScript) as a child process of this Node.js binary.
 * It uses 170–600 MB of RSS and answers about 20× slower than kinesalite: use it for what kinesalite
 * lacks. On release it gets SIGTERM, then SIGKILL after 3 s (it sometimes ignores SIGTERM).
 *
 * @since 0.1.0
 * @category constructors
 */
export const kinesisLocal = (
  options: KinesisLocalOptions = {}
): Effect.Effect<LocalEndpoint, LocalServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* net.freePort)
    const tlsPort = yield* net.freePort
    const main = createRequire(import.meta.url).resolve("kinesis-local/main.js")
    const duration = `${Duration.toMillis(options.stateChangeDuration ?? Duration.millis(50))}ms`
    yield* net.spawnScoped("kinesis-local", process.execPath, [main], {
      cwd: Path.dirname(main),
      env: {
        ...process.env,
        KINESIS_MOCK_CERT_PATH: Path.join(Path.dirname(main), "server.json"),
        KINESIS_MOCK_PLAIN_PORT: String(port),
        KINESIS_MOCK_TLS_PORT: String(tlsPort),
        CREATE_STREAM_DURATION: duration,
        DELETE_STREAM_DURATION: duration,
        SPLIT_SHARD_DURATION: duration,
        MERGE_SHARDS_DURATION: duration,
        UPDATE_SHARD_COUNT_DURATION: duration,
        REGISTER_STREAM_CONSUMER_DURATION: duration,
        DEREGISTER_STREAM_CONSUMER_DURATION: duration,
        START_STREAM_ENCRYPTION_DURATION: duration,
        STOP_STREAM_ENCRYPTION_DURATION: duration,
        SHARD_LIMIT: String(options.shardLimit ?? 1000),
        ON_DEMAND_STREAM_COUNT_LIMIT: "100",
        AWS_REGION: region,
        LOG_LEVEL: "ERROR"
      },
      killAfter: Duration.seconds(3)
    })
    yield* net.waitForPort("kinesis-local", port, options.startTimeout ?? Duration.seconds(30))
    return { endpoint: `http://127.0.0.1:${port}`, port, region, credentials }
  })
