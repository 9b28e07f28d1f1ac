/**
 * The benchmark harness: every suite measures our code against a baseline **in the same run** and
 * reports ratios (machines are noisy; ratios travel, absolute times do not).
 *
 * A suite is a module `bench/<name>.bench.ts` whose default export is a `Suite`. `pnpm bench` runs
 * them all (`pnpm bench <filter>` runs those whose name contains the filter), prints the rows and
 * rewrites the suite's section of BENCHMARKS.md.
 */
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

/** What `compareInProcesses` reports: medians over the processes, and the spread of their ratios. */
export interface IsolatedResult {
  readonly ours: number
  readonly baseline: number
  /** The median of the processes' ratios. */
  readonly ratio: number
  readonly ratios: ReadonlyArray<number>
}

/** The environment variable that makes a suite module run one case and print its result. */
export const CASE_ENV = "EFFECT_KINESIS_BENCH_CASE"

/**
 * Runs `compare` for one case in `processes` fresh Node processes, one after another, and reports
 * the medians. A single process settles on its own JIT and heap state, and that state favours one
 * side or the other for the whole run: on this machine an A/A comparison (the same code on both
 * sides) measured 0.93–1.13× from one process to the next. Fresh processes spread that bias.
 *
 * The child runs `module` (a suite file) with `CASE_ENV` set to `caseId`; the module must then call
 * `runCaseIfChild` with its cases.
 */
export const compareInProcesses = async (options: {
  readonly module: string
  readonly caseId: string
  readonly processes: number
}): Promise<IsolatedResult> => {
  const { execFileSync } = await import("node:child_process")
  const { fileURLToPath } = await import("node:url")
  const results: Array<{ ours: number; baseline: number; ratio: number }> = []
  for (let i = 0; i < options.processes; i++) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(options.module)], {
      env: { ...process.env, [CASE_ENV]: options.caseId },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 1024 * 1024
    })
    const line = out.trim().split("\n").pop() ?? ""
    results.push(JSON.parse(line) as { ours: number; baseline: number; ratio: number })
  }
  return {
    ours: median(results.map((r) => r.ours)),
    baseline: median(results.map((r) => r.baseline)),
    ratio: median(results.map((r) => r.ratio)),
    ratios: results.map((r) => r.ratio)
  }
}

/**
 * In a child started by `compareInProcesses`: runs the case named by `CASE_ENV` and prints its
 * result as the last line of stdout. Returns whether this process is such a child.
 */
export const runCaseIfChild = (
  cases: Record<string, () => Promise<{ readonly ours: number; readonly baseline: number; readonly ratio: number }>>
): boolean => {
  const id = process.env[CASE_ENV]
  if (id === undefined) return false
  const run = cases[id]
  if (run === undefined) throw new Error(`no bench case ${id}`)
  run().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`)
    },
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  )
  return true
}
