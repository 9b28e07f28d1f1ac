/**
 * kinesalite in a process of its own, for benchmarks that measure the client's CPU: a server in the
 * benchmark's process would count its work as the client's. The child runs `LocalKinesis.kinesalite()`
 * (with its CBOR front) and prints its endpoint; `start` resolves with it and a `stop`.
 *
 *   node --import tsx bench/kinesaliteProcess.ts   (prints "ENDPOINT http://127.0.0.1:PORT")
 */
import { LocalKinesis } from "@effect-kinesis/local"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"

export interface KinesaliteProcess {
  readonly endpoint: string
  readonly region: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly stop: () => Promise<void>
}

export const start = (): Promise<KinesaliteProcess> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", import.meta.filename], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`kinesalite process exited with ${code}`)))
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("ENDPOINT ")) return
      resolve({
        endpoint: line.slice("ENDPOINT ".length),
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners("exit")
            child.once("exit", () => done())
            child.kill("SIGTERM")
          })
      })
    })
  })

if (process.argv[1] === import.meta.filename) {
  Effect.runFork(Effect.scoped(Effect.gen(function*() {
    const server = yield* LocalKinesis.kinesalite()
    process.stdout.write(`ENDPOINT ${server.endpoint}\n`)
    process.once("SIGTERM", () => process.exit(0))
    yield* Effect.never
  })))
}
