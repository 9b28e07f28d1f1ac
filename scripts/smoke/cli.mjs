// The installed `effect-kinesis` bin (node_modules/.bin, as npm links it): `--version` prints the
// package's version, and `streams` lists the streams of a kinesalite started here through the packed
// @effect-kinesis/local. Exit 0 when both behave.
import { Kinesis } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

const bin = new URL("./node_modules/.bin/effect-kinesis", import.meta.url).pathname
const { version } = createRequire(import.meta.url)("@effect-kinesis/cli/package.json")

// asynchronous: the kinesalite of this process must keep answering while the CLI talks to it
const cli = (args) =>
  Effect.async((resume) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (data) => (stdout += data))
    child.stderr.setEncoding("utf8").on("data", (data) => (stderr += data))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

const expect = (what, condition, result) => {
  if (!condition) throw new Error(`${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
}

const program = Effect.gen(function*() {
  if (!readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node")) throw new Error(`${bin}: no node shebang`)
  const v = yield* cli(["--version"])
  expect(`effect-kinesis --version (expected ${version})`, v.code === 0 && v.stdout.trim() === version, v)

  const server = yield* LocalKinesis.kinesalite()
  yield* Kinesis.createStream({ streamName: "smoke-cli", shardCount: 2, waitUntilActive: true }).pipe(
    Effect.provide(Kinesis.layer({ endpoint: server.endpoint, region: server.region, credentials: server.credentials }))
  )
  const streams = yield* cli(["streams", "--endpoint", server.endpoint])
  expect("effect-kinesis streams", streams.code === 0 && streams.stdout.includes("smoke-cli"), streams)
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => {
    console.log(`cli.mjs: effect-kinesis ${version}: --version and streams work from the installed bin`)
    process.exit(0)
  },
  (error) => {
    console.error("cli.mjs failed:", error)
    process.exit(1)
  }
)
