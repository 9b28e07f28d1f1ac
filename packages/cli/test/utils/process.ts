/**
 * The bin users install, run as a child process (`node packages/cli/bin/effect-kinesis.js ...`, over
 * the bundle that test/bundle.globalSetup.ts builds from the sources before the run): its stdout,
 * stderr, exit code and running time.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../bin/effect-kinesis.js", import.meta.url))

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
}

/** The environment without the machine's AWS settings: every test says where it connects. */
export const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const clean: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(clean)) {
    if (key.startsWith("AWS_") || key.startsWith("KINESIS_")) delete clean[key]
  }
  return { ...clean, ...extra }
}

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly result: Promise<Result>
}

export interface StartOptions {
  /** stdin (closed after it). */
  readonly input?: string | undefined
  /** e.g. `--import tsx` for a command that loads `@effect-kinesis/local`, kept outside the bundle. */
  readonly nodeOptions?: ReadonlyArray<string> | undefined
  /** Variables added to `env()`. */
  readonly env?: NodeJS.ProcessEnv | undefined
}

export const start = (args: ReadonlyArray<string>, options: StartOptions = {}): Running => {
  const started = Date.now()
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), bin, ...args], {
    env: env(options.env),
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (stdout += data))
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data))
  child.stdin!.end(options.input ?? "")
  const result = new Promise<Result>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr, millis: Date.now() - started }))
  })
  return { child, stdout: () => stdout, result }
}

/**
 * Child processes at once: each spends ~0.3 s of CPU starting (more with tsx), and the machine has few
 * cores — more at once would only make each slower.
 */
export const slots = Effect.unsafeMakeSemaphore(3)

/** Runs the CLI to its end. */
export const cli = (args: ReadonlyArray<string>, options?: StartOptions): Effect.Effect<Result> =>
  slots.withPermits(1)(Effect.promise(() => start(args, options).result))

export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.length > 0)
