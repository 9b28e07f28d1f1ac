/**
 * The benchmark harness: every suite measures our code against a baseline **in the same run** and
 * reports ratios (machines are noisy; ratios travel, absolute times do not).
 *
 * A suite is a module `bench/<name>.bench.ts` whose default export is a `Suite`. `pnpm bench` runs
 * them all (`pnpm bench <filter>` runs those whose name contains the filter), prints the rows and
 * rewrites the suite's section of BENCHMARKS.md.
 */
import { spawn } from "node:child_process"
import { performance } from "node:perf_hooks"

export interface Row {
  /** What was measured, e.g. "putRecords 500 × 1 KiB". */
  readonly case: string
  /** Unit of `ours` / `baseline`, e.g. "ms/batch" or "records/s". */
  readonly unit: string
  readonly ours: number
  readonly baseline?: { readonly name: string; readonly value: number } | undefined
  /**
   * ours ÷ baseline, or baseline ÷ ours for rates — always written so that < 1 means "we are
   * cheaper / faster" for times and > 1 means "we are faster" for rates; `ratioMeaning` says which.
   */
  readonly ratio?: number | undefined
  readonly ratioMeaning?: string | undefined
  /** The goal for the ratio, e.g. "≤ 1.05×". */
  readonly goal?: string | undefined
  readonly pass?: boolean | undefined
}

export interface SuiteResult {
  readonly rows: ReadonlyArray<Row>
  /** Markdown written under the table (decisions, caveats). */
  readonly notes?: string | undefined
}

export interface Suite {
  readonly name: string
  readonly description: string
  readonly run: () => Promise<SuiteResult>
}

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Milliseconds one call of `fn` takes (wall clock). */
export const timeOnce = async (fn: () => unknown): Promise<number> => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/**
 * Runs `ours` and `baseline` alternately for `rounds` rounds (after `warmup` rounds of each) and
 * returns the median milliseconds per round of each, and as the ratio the median of the rounds' own
 * ratios (ours ÷ baseline within a round): alternation spreads machine noise evenly, and a round's two
 * runs are close in time, so a machine that slows down or speeds up for a while moves both.
 */
export const compare = async (options: {
  readonly rounds: number
  readonly warmup?: number
  readonly ours: () => unknown
  readonly baseline: () => unknown
  /** Runs before each round of either side (not timed), e.g. to create a fresh stream. */
  readonly before?: () => unknown
}): Promise<{ readonly ours: number; readonly baseline: number; readonly ratio: number }> => {
  const ours: Array<number> = []
  const baseline: Array<number> = []
  const warmup = options.warmup ?? 1
  for (let i = 0; i < warmup + options.rounds; i++) {
    // alternate which side goes first
    const order = i % 2 === 0 ? (["ours", "baseline"] as const) : (["baseline", "ours"] as const)
    for (const side of order) {
      await options.before?.()
      const ms = await timeOnce(side === "ours" ? options.ours : options.baseline)
      if (i >= warmup) (side === "ours" ? ours : baseline).push(ms)
    }
  }
  const o = median(ours)
  const b = median(baseline)
  return { ours: o, baseline: b, ratio: median(ours.map((x, i) => x / baseline[i]!)) }
}

export const fmt = (n: number): string =>
  n >= 1000 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(3)

/**
 * Runs `file` (a bench module) again in a child process with `args` and resolves with the numbers on the last
 * line it prints (separated by spaces): each side of a CPU comparison in a process of its own, so neither
 * pays for the other's garbage.
 */
export const runChildValues = (file: string, args: ReadonlyArray<string>): Promise<Array<number>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk)
    })
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0
        ? resolve(out.trim().split("\n").pop()!.split(" ").map(Number))
        : reject(new Error(`the child ${args.join(" ")} exited with ${code}`)))
  })

/** `runChildValues`, for a child that prints one number. */
export const runChild = (file: string, args: ReadonlyArray<string>): Promise<number> =>
  runChildValues(file, args).then((values) => values[0]!)
