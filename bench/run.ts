/**
 * `pnpm bench [filter]`: runs every `bench/*.bench.ts` suite (or the one named as the filter, else
 * those whose name contains it), prints their rows and rewrites their sections of BENCHMARKS.md, keeping the others.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { fmt, type Suite, type SuiteResult } from "./harness.js"

const root = Path.resolve(import.meta.dirname, "..")
const filter = process.argv[2]
const target = Path.join(root, "BENCHMARKS.md")

const machine = () => {
  const cpus = Os.cpus()
  return `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${Math.round(Os.totalmem() / 2 ** 30)} GiB, ` +
    `${Os.type()} ${Os.release()}, Node ${process.version}`
}

const render = (suite: Suite, result: SuiteResult, seconds: number): string => {
  const lines = [
    `<!-- suite:${suite.name} -->`,
    `## ${suite.name}`,
    "",
    suite.description,
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm bench ${suite.name}\` (${
      seconds.toFixed(0)
    } s) on ${machine()}.`,
    "",
    "| case | ours | baseline | ratio | goal |",
    "|---|---:|---|---:|---|"
  ]
  for (const row of result.rows) {
    const baseline = row.baseline ? `${row.baseline.name}: ${fmt(row.baseline.value)} ${row.unit}` : "—"
    const ratio = row.ratio === undefined
      ? "—"
      : `${row.ratio.toFixed(2)}×${row.ratioMeaning ? ` (${row.ratioMeaning})` : ""}`
    const goal = row.goal === undefined ? "—" : `${row.goal}${row.pass === undefined ? "" : row.pass ? " ✅" : " ❌"}`
    lines.push(`| ${row.case} | ${fmt(row.ours)} ${row.unit} | ${baseline} | ${ratio} | ${goal} |`)
  }
  if (result.notes) lines.push("", result.notes.trim())
  lines.push(`<!-- /suite:${suite.name} -->`)
  return lines.join("\n")
}

const header = `# Benchmarks

Every figure compares our code with a baseline measured in the same run (ratios, not absolute
times: machines are noisy). Regenerate with \`pnpm bench\` (all suites) or \`pnpm bench <suite>\`;
each suite rewrites only its own section.
`

const main = async () => {
  const files = Fs.readdirSync(import.meta.dirname).filter((f) => f.endsWith(".bench.ts")).sort()
  const suites: Array<Suite> = []
  for (const file of files) {
    const mod = (await import(pathToFileURL(Path.join(import.meta.dirname, file)).href)) as { default: Suite }
    suites.push(mod.default)
  }
  // a suite named exactly as the filter runs alone ("process" is not also "processor")
  const exact = suites.filter((s) => s.name === filter)
  const chosen = filter === undefined
    ? suites
    : exact.length > 0
    ? exact
    : suites.filter((s) => s.name.includes(filter))
  suites.splice(0, suites.length, ...chosen)
  if (suites.length === 0) throw new Error(`no suite matches ${filter}`)
  let doc = Fs.existsSync(target) ? Fs.readFileSync(target, "utf8") : header
  for (const suite of suites) {
    console.log(`\n▶ ${suite.name}: ${suite.description}`)
    const start = performance.now()
    const result = await suite.run()
    const section = render(suite, result, (performance.now() - start) / 1000)
    console.table(result.rows.map((r) => ({
      case: r.case,
      ours: `${fmt(r.ours)} ${r.unit}`,
      baseline: r.baseline ? `${r.baseline.name} ${fmt(r.baseline.value)}` : "",
      ratio: r.ratio?.toFixed(3) ?? "",
      goal: r.goal ?? "",
      pass: r.pass ?? ""
    })))
    const pattern = new RegExp(`<!-- suite:${suite.name} -->[\\s\\S]*?<!-- /suite:${suite.name} -->`)
    doc = pattern.test(doc) ? doc.replace(pattern, section) : `${doc.trimEnd()}\n\n${section}\n`
  }
  Fs.writeFileSync(target, doc.endsWith("\n") ? doc : `${doc}\n`)
  console.log(`\nwrote ${Path.relative(root, target)}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
