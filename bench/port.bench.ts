/**
 * The port's data plane against the bare AWS SDK: `putRecords` / `getRecords` in each data-plane mode
 * (`cbor`, `json`, `sdk`) vs the same `client.send(new PutRecordsCommand(...))` / `GetRecordsCommand`
 * loop, all on one `KinesisClient`, against kinesalite running in a process of its own — so this
 * process's CPU time (`process.cpuUsage()`) is the client's alone. The primary figure is client CPU per
 * record; wall time is reported for the SDK mode's overhead row (it includes the server).
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordsCommand
} from "@aws-sdk/client-kinesis"
import { Checkpointer, Consumer, Kinesis, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { Effect, Exit, Layer, Scope, Stream } from "effect"
import { Session } from "node:inspector/promises"
import { fileURLToPath } from "node:url"
import { median, type Row, runChild, runChildValues, type Suite } from "./harness.js"
import * as KinesaliteProcess from "./kinesaliteProcess.js"

const BATCHES_PER_ROUND = 10
const RECORDS = 500
/** Child processes per side of the port's cases (rotating), and the runs each measures after a warm-up. */
const PORT_CHILDREN = 3
const ROUNDS = 7
const WARMUP = 3
/** Records the read case reads per round (two GetRecords of at most 10,000 records / 10 MB). */
const READ_RECORDS = 10_000
/** Records of the end-to-end cases (producer sink, consumer stream), ~1 KiB of JSON each, 4 shards. */
const E2E_RECORDS = 20_000
/** Child processes per side of the end-to-end cases (alternating), and the rounds each measures after a warm-up. */
const E2E_CHILDREN = 3
const E2E_ROUNDS = 7
const E2E_WARMUP = 3
/** Bytes between two samples of the allocation profiler (smaller: more exact, slower). */
const SAMPLING_INTERVAL = 256

/**
 * JavaScript heap bytes `run` allocates, collected or not, by V8's sampling heap profiler (each sample
 * stands for `SAMPLING_INTERVAL` bytes on average). ArrayBuffer contents live outside the heap and are not
 * counted (a typed array's object is); the bytes of record data are counted by construction instead.
 */
const heapAllocated = async (run: () => Promise<void>): Promise<number> => {
  const session = new Session()
  session.connect()
  try {
    await session.post("HeapProfiler.enable")
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: SAMPLING_INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    await run()
    const { profile } = await session.post("HeapProfiler.stopSampling")
    let total = 0
    const walk = (node: { readonly selfSize: number; readonly children: ReadonlyArray<typeof node> }): void => {
      total += node.selfSize
      for (const child of node.children) walk(child)
    }
    walk(profile.head)
    return total
  } finally {
    session.disconnect()
  }
}

type Side = "raw" | Kinesis.DataPlane
const SIDES: ReadonlyArray<Side> = ["raw", "sdk", "json", "cbor"]

interface Sample {
  readonly cpu: number
  readonly wall: number
}

/** A case of the port's rows: PutRecords of 1 KiB or 100 B records, or the read of a filled stream. */
type PortCase = "put1k" | "put100" | "get"

/**
 * In a child process: `side`'s `portCase` against kinesalite at `endpoint` (the read case reads `stream`,
 * filled by the parent), WARMUP + ROUNDS runs (each put run on a fresh stream); prints the median CPU µs
 * and wall ms of a run after the warm-up. Each side in processes of its own: in one process, the SDK
 * sides' garbage (base64 strings, JSON bodies) was collected on the other sides' time.
 */
const portChild = async (side: Side, portCase: PortCase, endpoint: string, stream: string): Promise<string> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const connection = await connect(endpoint, scope)
    const run = portCase === "get"
      ? readWhole(connection, StreamAddress.unsafeMake(stream), side)
      : putLoop(connection, portCase === "put1k" ? 1024 : 100, side)
    const cpu: Array<number> = []
    const wall: Array<number> = []
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      if (portCase !== "get") await connection.freshStream()
      const cpu0 = process.cpuUsage()
      const wall0 = performance.now()
      await run()
      const w = performance.now() - wall0
      const c = process.cpuUsage(cpu0)
      if (round >= WARMUP) {
        cpu.push(c.user + c.system)
        wall.push(w)
      }
    }
    if (portCase !== "get") {
      await Effect.runPromise(connection.control.deleteStream({ stream: connection.currentStream() }))
    }
    return `${median(cpu)} ${median(wall)}`
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Each side of `portCase` in PORT_CHILDREN child processes (rotating which side goes first). */
const portRounds = async (
  portCase: PortCase,
  endpoint: string,
  stream: string
): Promise<Record<Side, Array<Sample>>> => {
  const out: Record<Side, Array<Sample>> = { raw: [], sdk: [], json: [], cbor: [] }
  for (let child = 0; child < PORT_CHILDREN; child++) {
    for (let k = 0; k < SIDES.length; k++) {
      const side = SIDES[(child + k) % SIDES.length]!
      const [cpu, wall] = await runChildValues(fileURLToPath(import.meta.url), [
        "--port-child",
        side,
        portCase,
        endpoint,
        stream
      ])
      out[side].push({ cpu: cpu!, wall: wall! })
    }
  }
  return out
}

/** Median of the per-child ratios side ÷ raw. */
const ratio = (samples: Record<Side, Array<Sample>>, side: Side, of: "cpu" | "wall"): number =>
  median(samples[side].map((s, i) => s[of] / samples.raw[i]![of]))

const cpuRows = (
  label: string,
  samples: Record<Side, Array<Sample>>,
  records: number,
  goal: { readonly side: Side; readonly max: number } | undefined
): Array<Row> =>
  (["cbor", "json", "sdk"] as const).map((side) => {
    const r = ratio(samples, side, "cpu")
    const withGoal = goal !== undefined && goal.side === side
    return {
      case: `${label}: port, ${side} data plane`,
      unit: "µs CPU/record",
      ours: median(samples[side].map((s) => s.cpu)) / records,
      baseline: { name: "raw client.send loop", value: median(samples.raw.map((s) => s.cpu)) / records },
      ratio: r,
      ratioMeaning: "client CPU, port ÷ raw",
      goal: withGoal ? `≤ ${goal.max}×` : undefined,
      pass: withGoal ? r <= goal.max : undefined
    }
  })

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" }

/** A client on kinesalite, the port in each mode, and fresh streams (each deletes the one before). */
const connect = async (endpoint: string, scope: Scope.Scope) => {
  const client = await Effect.runPromise(Scope.extend(
    Kinesis.makeClient({ endpoint, region: "us-east-1", credentials: CREDENTIALS }),
    scope
  ))
  const ports: Record<Kinesis.DataPlane, Kinesis.Service> = {
    cbor: Kinesis.fromClient(client, { dataPlane: "cbor" }),
    json: Kinesis.fromClient(client, { dataPlane: "json" }),
    sdk: Kinesis.fromClient(client, { dataPlane: "sdk" })
  }
  const control = ports.sdk
  // a fresh stream per round keeps kinesalite's memory flat (it deletes the previous one)
  let current: StreamAddress.StreamAddress | undefined
  let counter = 0
  const freshStream = (shardCount = 1) =>
    Effect.runPromise(Effect.gen(function*() {
      if (current !== undefined) yield* control.deleteStream({ stream: current })
      const name = `bench-port-${process.pid}-${counter++}`
      yield* Kinesis.createStream({ streamName: name, shardCount, waitUntilActive: true }).pipe(
        Effect.provideService(Kinesis.Kinesis, control)
      )
      current = StreamAddress.unsafeMake(name)
    }))
  const currentStream = (): StreamAddress.StreamName => {
    if (current === undefined || current._tag !== "StreamName") throw new Error("no stream yet")
    return current
  }
  return { client, ports, control, freshStream, currentStream }
}

type Connection = Awaited<ReturnType<typeof connect>>

/** A run of the put case: BATCHES_PER_ROUND PutRecords of RECORDS records of `size` bytes by `side`. */
const putLoop = (connection: Connection, size: number, side: Side) => {
  const { client, currentStream, ports } = connection
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    data: new Uint8Array(size).fill(i % 256),
    partitionKey: `key-${i}`
  }))
  const sdkRecords = records.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey }))
  return async () => {
    for (let i = 0; i < BATCHES_PER_ROUND; i++) {
      if (side === "raw") {
        await client.send(new PutRecordsCommand({ StreamName: currentStream().name, Records: sdkRecords }))
      } else {
        await Effect.runPromise(ports[side].putRecords({ stream: currentStream(), records }))
      }
    }
  }
}

/** A run of the read case: `stream`'s first shard read whole from TRIM_HORIZON by `side`. */
const readWhole = (connection: Connection, stream: StreamAddress.StreamAddress, side: Side) => async () => {
  const { client, ports } = connection
  const shardId = "shardId-000000000000"
  if (side === "raw") {
    let iterator = (await client.send(
      new GetShardIteratorCommand({
        StreamName: StreamAddress.name(stream),
        ShardId: shardId,
        ShardIteratorType: "TRIM_HORIZON"
      })
    )).ShardIterator
    let n = 0
    while (iterator !== undefined && n < READ_RECORDS) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
      n += out.Records?.length ?? 0
      iterator = out.NextShardIterator
    }
    return
  }
  const port = ports[side]
  await Effect.runPromise(Effect.gen(function*() {
    let iterator: string | undefined = yield* port.getShardIterator({
      stream,
      shardId,
      position: { type: "TRIM_HORIZON" }
    })
    let n = 0
    while (iterator !== undefined && n < READ_RECORDS) {
      const out: Kinesis.GetRecordsResponse = yield* port.getRecords({ shardIterator: iterator, limit: 10_000 })
      n += out.records.length
      iterator = out.nextShardIterator
    }
  }))
}

type E2eSide = "ours" | "raw"
/** The phase an end-to-end child measures: writing (ours unpaced or paced), or reading a filled stream. */
type E2ePhase = "produce" | "paced" | "consume"

const e2ePayload = "x".repeat(1000)
const e2eValues = Array.from({ length: E2E_RECORDS }, (_, id) => ({ id, payload: e2ePayload }))

/** The raw loop as an application writes it: serialise, one PutRecords of 500 at a time, failures re-sent. */
const rawProduce = async (client: KinesisClient, stream: string) => {
  const encoder = new TextEncoder()
  for (let i = 0; i < E2E_RECORDS; i += RECORDS) {
    let pending = e2eValues.slice(i, i + RECORDS).map((v) => ({
      Data: encoder.encode(JSON.stringify(v)),
      PartitionKey: `k-${v.id}`
    }))
    while (pending.length > 0) {
      const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: pending }))
      pending = pending.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined)
    }
  }
}

/**
 * In a child process: `side`'s `phase` against kinesalite at `endpoint`, E2E_WARMUP + E2E_ROUNDS times;
 * prints the median client CPU µs per run after the warm-up. Writing fills a fresh 4-shard stream per
 * round (the producer sink with \`Processor.json\`, or the raw PutRecords loop); reading reads \`stream\`
 * (filled by the parent) whole from TRIM_HORIZON (\`Consumer.stream\`, or the raw GetRecords loop). Each side
 * and phase in processes of their own: in one process, one side's garbage (10 MB responses, 20,000
 * values) is collected on the other's time.
 */
const e2eChild = async (side: E2eSide, phase: E2ePhase, endpoint: string, stream: string): Promise<number> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const { client, control, currentStream, freshStream, ports } = await connect(endpoint, scope)
    const ourProduce = (paced: boolean) => () =>
      Effect.runPromise(
        Stream.fromIterable(e2eValues).pipe(
          Stream.run(
            Producer.sink({
              stream: currentStream(),
              processor: Processor.json,
              partitionKey: (v) => `k-${(v as { readonly id: number }).id}`,
              ...(paced ? {} : { shardLimits: false })
            })
          ),
          Effect.provideService(Kinesis.Kinesis, ports.cbor)
        )
      )
    const address = StreamAddress.unsafeMake(stream)
    const shards = phase === "consume" ? await Effect.runPromise(control.listShards({ stream: address })) : []
    const rawConsume = async () => {
      let n = 0
      for (const { shardId } of shards) {
        let iterator = (await client.send(
          new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" })
        )).ShardIterator
        for (;;) {
          const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
          for (const r of out.Records ?? []) JSON.parse(new TextDecoder().decode(r.Data))
          n += out.Records?.length ?? 0
          iterator = out.NextShardIterator
          if ((out.Records?.length ?? 0) === 0) break
        }
      }
      if (n !== E2E_RECORDS) throw new Error(`raw consumer read ${n} records`)
    }
    const ourConsume = () =>
      Effect.runPromise(
        Consumer.stream({ stream: address, processor: Processor.json, idleDelay: "50 millis" }).pipe(
          Stream.take(E2E_RECORDS),
          Stream.runDrain,
          Effect.provide(Layer.merge(Layer.succeed(Kinesis.Kinesis, ports.cbor), Checkpointer.layerMemory()))
        )
      )
    const run = phase === "consume"
      ? side === "ours" ? ourConsume : rawConsume
      : side === "ours"
      ? ourProduce(phase === "paced")
      : () => rawProduce(client, currentStream().name)
    const samples: Array<number> = []
    for (let round = 0; round < E2E_WARMUP + E2E_ROUNDS; round++) {
      if (phase !== "consume") await freshStream(4)
      const start = process.cpuUsage()
      await run()
      const d = process.cpuUsage(start)
      if (round >= E2E_WARMUP) samples.push(d.user + d.system)
    }
    if (phase !== "consume") await Effect.runPromise(control.deleteStream({ stream: currentStream() }))
    if (process.env.BENCH_VERBOSE) {
      console.error(`${side} ${phase}: ${samples.map((x) => (x / E2E_RECORDS).toFixed(1)).join(" ")} µs/record`)
    }
    return median(samples)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const runE2eChild = (side: E2eSide, phase: E2ePhase, endpoint: string, stream: string): Promise<number> =>
  runChild(fileURLToPath(import.meta.url), ["--e2e-child", side, phase, endpoint, stream])

const suite: Suite = {
  name: "port",
  description: "`Kinesis.putRecords`/`getRecords` in each data-plane mode vs a raw `client.send` loop on the same " +
    "`KinesisClient` (HTTP/1.1 keep-alive) against kinesalite in its own process: client CPU per record " +
    `(\`process.cpuUsage()\`), each side in ${PORT_CHILDREN} child processes of its own, medians.`,
  run: async () => {
    const server = await KinesaliteProcess.start()
    const scope = Effect.runSync(Scope.make())
    try {
      const connection = await connect(server.endpoint, scope)
      const { client, currentStream, freshStream } = connection
      // the CPU and wall time of each side: in child processes of their own (portChild)
      const put1k = await portRounds("put1k", server.endpoint, "")
      const put100 = await portRounds("put100", server.endpoint, "")
      // reads: one stream holding READ_RECORDS × 1 KiB, read whole from TRIM_HORIZON by each side
      await freshStream()
      const readRecords = Array.from({ length: RECORDS }, (_, i) => ({
        Data: new Uint8Array(1024).fill(i % 256),
        PartitionKey: `key-${i}`
      }))
      for (let i = 0; i < READ_RECORDS / RECORDS; i++) {
        await client.send(new PutRecordsCommand({ StreamName: currentStream().name, Records: readRecords }))
      }
      const readStream = currentStream()
      const get = await portRounds("get", server.endpoint, readStream.name)
      // heap allocated per record by one more run of each side, here (the profiler slows it: not timed)
      const getHeap = {
        raw: await heapAllocated(readWhole(connection, readStream, "raw")),
        cbor: await heapAllocated(readWhole(connection, readStream, "cbor"))
      }
      await freshStream()
      const putHeap = {
        raw: await heapAllocated(putLoop(connection, 1024, "raw")),
        cbor: await heapAllocated(putLoop(connection, 1024, "cbor"))
      }

      // end to end: each side and phase in child processes of its own (see e2eChild), alternating
      await freshStream(4)
      for (let i = 0; i < E2E_RECORDS / RECORDS; i++) {
        await client.send(
          new PutRecordsCommand({
            StreamName: currentStream().name,
            Records: e2eValues.slice(i * RECORDS, (i + 1) * RECORDS).map((v) => ({
              Data: new TextEncoder().encode(JSON.stringify(v)),
              PartitionKey: `k-${v.id}`
            }))
          })
        )
      }
      const filled = currentStream().name
      const e2e = {
        produce: { ours: new Array<number>(), raw: new Array<number>() },
        paced: { ours: new Array<number>(), raw: new Array<number>() },
        consume: { ours: new Array<number>(), raw: new Array<number>() }
      }
      for (let child = 0; child < E2E_CHILDREN; child++) {
        for (const phase of ["produce", "consume"] as const) {
          for (const side of child % 2 === 0 ? (["ours", "raw"] as const) : (["raw", "ours"] as const)) {
            e2e[phase][side].push(await runE2eChild(side, phase, server.endpoint, filled))
          }
        }
        e2e.paced.ours.push(await runE2eChild("ours", "paced", server.endpoint, filled))
        e2e.paced.raw.push(e2e.produce.raw[e2e.produce.raw.length - 1]!)
      }
      const e2eRow = (what: "produce" | "paced" | "consume", label: string, goal: boolean): Row => {
        const r = median(e2e[what].ours.map((x, i) => x / e2e[what].raw[i]!))
        return {
          case: label,
          unit: "µs CPU/record",
          ours: median(e2e[what].ours) / E2E_RECORDS,
          baseline: { name: "raw client.send loop", value: median(e2e[what].raw) / E2E_RECORDS },
          ratio: r,
          ratioMeaning: "client CPU, ours ÷ raw",
          goal: goal ? "≤ 0.6×" : undefined,
          pass: goal ? r <= 0.6 : undefined
        }
      }

      const putRecords = BATCHES_PER_ROUND * RECORDS
      const sdkWall = ratio(put1k, "sdk", "wall")
      const sdkGetWall = ratio(get, "sdk", "wall")
      const rows: Array<Row> = [
        ...cpuRows("putRecords 500 × 1 KiB", put1k, putRecords, { side: "cbor", max: 0.5 }),
        ...cpuRows("putRecords 500 × 100 B", put100, putRecords, undefined),
        ...cpuRows(`getRecords ${READ_RECORDS.toLocaleString("en-US")} × 1 KiB`, get, READ_RECORDS, {
          side: "cbor",
          max: 0.5
        }),
        e2eRow(
          "produce",
          `Stream.run(Producer.sink), Processor.json ~1 KiB, 4 shards, cbor, shardLimits: false (${
            E2E_RECORDS.toLocaleString("en-US")
          } records)`,
          true
        ),
        e2eRow("paced", "the same with the default pacing at AWS's per-shard limits (smaller requests)", false),
        e2eRow(
          "consume",
          `Consumer.stream, Processor.json ~1 KiB, 4 shards, cbor (${E2E_RECORDS.toLocaleString("en-US")} records)`,
          true
        ),
        {
          case: "putRecords 500 × 1 KiB, cbor data plane: JavaScript heap allocated",
          unit: "B/record",
          ours: putHeap.cbor / putRecords,
          baseline: { name: "raw client.send loop", value: putHeap.raw / putRecords },
          ratio: putHeap.cbor / putHeap.raw,
          ratioMeaning: "heap bytes, port ÷ raw"
        },
        {
          case: `getRecords ${
            READ_RECORDS.toLocaleString("en-US")
          } × 1 KiB, cbor data plane: JavaScript heap allocated`,
          unit: "B/record",
          ours: getHeap.cbor / READ_RECORDS,
          baseline: { name: "raw client.send loop", value: getHeap.raw / READ_RECORDS },
          ratio: getHeap.cbor / getHeap.raw,
          ratioMeaning: "heap bytes, port ÷ raw"
        },
        {
          case: "putRecords 500 × 1 KiB, sdk data plane: port overhead (wall time)",
          unit: "ms/call",
          ours: median(put1k.sdk.map((s) => s.wall)) / BATCHES_PER_ROUND,
          baseline: {
            name: "client.send(PutRecordsCommand)",
            value: median(put1k.raw.map((s) => s.wall)) / BATCHES_PER_ROUND
          },
          ratio: sdkWall,
          ratioMeaning: "time, port ÷ raw",
          goal: "≤ 1.05×",
          pass: sdkWall <= 1.05
        },
        {
          case: `getRecords ${READ_RECORDS.toLocaleString("en-US")} × 1 KiB, sdk data plane: port overhead (wall time)`,
          unit: "ms/read",
          ours: median(get.sdk.map((s) => s.wall)),
          baseline: { name: "client.send(GetRecordsCommand)", value: median(get.raw.map((s) => s.wall)) },
          ratio: sdkGetWall,
          ratioMeaning: "time, port ÷ raw",
          goal: "≤ 1.05×",
          pass: sdkGetWall <= 1.05
        }
      ]
      return {
        rows,
        notes: `
- Every side uses the same \`KinesisClient\` (its HTTP/1.1 keep-alive handler, credentials and endpoint): the
  \`cbor\` and \`json\` modes sign and send their own bodies through it; \`sdk\` is the port over the SDK's commands.
- CPU is the client process's user + system time around each side's run: the server runs in another process
  (bench/kinesaliteProcess.ts: \`LocalKinesis.kinesalite()\` with its CBOR front).
- Each side of the port's cases runs in child processes of its own (${PORT_CHILDREN} per side, rotating which goes
  first), each measuring ${ROUNDS} runs (${BATCHES_PER_ROUND} PutRecords, or the whole read) after ${WARMUP} warm-up
  runs and reporting the median; the ratio is the median of the children's ratios. In one process the SDK
  sides' garbage (base64 strings, JSON bodies) was collected on the other sides' time, and the figures moved by
  a third from one run of the suite to the next.
- The read case reads ${
          READ_RECORDS.toLocaleString("en-US")
        } records in two GetRecords (10,000 records or 10 MB per call).
- End to end: the producer sink encodes ${
          E2E_RECORDS.toLocaleString("en-US")
        } values with \`Processor.json\` (~1 KiB each) into
  a 4-shard stream; the raw loop serialises the same values (\`JSON.stringify\` + \`TextEncoder\`) and sends them 500 per
  PutRecords, as fast as kinesalite takes them (it enforces no limits). The goal row turns the producer's pacing off
  (\`shardLimits: false\`) so that both send full requests; with the default pacing at AWS's limits (1,000 records/s
  per shard) the producer sends what each shard may take as it comes, in smaller requests, each with its fixed cost
  (signature, HTTP). The consumer reads a 4-shard stream holding the same ${
          E2E_RECORDS.toLocaleString("en-US")
        } values (written once beforehand) with
  \`Processor.json\` and a memory checkpointer; the raw loop reads every shard with GetRecords (SDK) and parses each
  record's JSON.
- Each side and phase (write, read) runs in child processes of its own: ${E2E_CHILDREN} per side, alternating which
  goes first; each measures ${E2E_ROUNDS} runs after ${E2E_WARMUP} warm-up runs (a fresh stream per write) and reports
  the median; the ratio is the median of the children's ratios. In one process, one side's garbage (10 MB responses,
  20,000 values) was collected on the other's time, and the read after a write paid for the write's garbage.
- Heap allocated: V8's sampling heap profiler (one sample per ~${SAMPLING_INTERVAL} B, collected objects included)
  around one more pass of each side, untimed. Record data live in ArrayBuffers, outside the heap: by
  construction the CBOR put copies each record's bytes once (into the request body) and the CBOR read copies
  none (records are views into the response body, which the HTTP handler assembles from the socket's
  chunks); the SDK base64-encodes every record into a string on the heap (put) and decodes each from one (get).`
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await server.stop()
    }
  }
}

export default suite

/** A child process's entry: runs `run` on the arguments after `flag` (when given) and prints its result. */
const childEntry = (flag: string, run: (args: ReadonlyArray<string>) => Promise<unknown>) => {
  const at = process.argv.indexOf(flag)
  if (at < 0) return
  run(process.argv.slice(at + 1)).then(
    (out) => process.stdout.write(`${out}\n`),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}

childEntry(
  "--port-child",
  ([side, portCase, endpoint, stream]) => portChild(side as Side, portCase as PortCase, endpoint!, stream!)
)
childEntry(
  "--e2e-child",
  ([side, phase, endpoint, stream]) => e2eChild(side as E2eSide, phase as E2ePhase, endpoint!, stream!)
)
