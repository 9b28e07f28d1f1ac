/**
 * What users install, measured where they install it: the packed packages installed with npm into
 * projects outside the workspace (scripts/pack.ts, as `pnpm smoke:pack` does).
 *
 * - cold start: a new `node` process that imports `effect` and the built `@effect-kinesis/core` and builds
 *   (then releases) `Kinesis.layer`, against one that imports `effect` and `@aws-sdk/client-kinesis` and
 *   creates (then destroys) a `KinesisClient` — the floor any Kinesis program on Effect pays. Rounds
 *   alternate the two; the ratio is the median of the rounds' own ratios.
 * - `effect-kinesis --version` through the installed bin (wall time; the baseline is `node -e 0`);
 * - each package's tarball, unpacked size, and install size: `node_modules` of a project that installs
 *   only that package and the peers it requires.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  cleanBuild,
  cleanEnv,
  directoryBytes,
  installProject,
  packAll,
  root,
  run,
  type Tarball,
  tempDir,
  workspaceVersion
} from "../scripts/pack.js"
import { median, type Row, type Suite } from "./harness.js"

const ROUNDS = 15

const ours = `
import { Kinesis } from "@effect-kinesis/core"
import { Effect, Layer } from "effect"
await Effect.runPromise(Effect.scoped(Layer.build(Kinesis.layer({ region: "us-east-1", endpoint: "http://127.0.0.1:4567" }))))
`

const baseline = `
import { KinesisClient } from "@aws-sdk/client-kinesis"
import { Effect } from "effect"
const client = new KinesisClient({ region: "us-east-1", endpoint: "http://127.0.0.1:4567" })
await Effect.runPromise(Effect.sync(() => client.destroy()))
`

const env = { ...cleanEnv(), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }

/** Wall milliseconds of one process run (it must exit 0). */
const wall = (cwd: string, command: string, args: ReadonlyArray<string>): number => {
  const start = performance.now()
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8" })
  const ms = performance.now() - start
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${result.status}\n${result.stderr}`)
  return ms
}

/** Alternates `a` and `b` (after one warm-up run each); medians and the median of per-round ratios. */
const alternate = (a: () => number, b: () => number) => {
  a()
  b()
  const as: Array<number> = []
  const bs: Array<number> = []
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      as.push(a())
      bs.push(b())
    } else {
      bs.push(b())
      as.push(a())
    }
  }
  return { a: median(as), b: median(bs), ratio: median(as.map((x, i) => x / bs[i]!)) }
}

/** Bytes of a tarball's files once unpacked (tar's listing). */
const unpackedBytes = (tarball: Tarball): number =>
  run("tar", ["-tvzf", tarball.file], root).split("\n").filter((l) => l.length > 0).reduce(
    (sum, line) => sum + Number(line.trim().split(/\s+/)[2]),
    0
  )

/** Peers each package requires (optional ones are left out: a user of that package need not have them). */
const requiredPeers: Record<Tarball["dir"], ReadonlyArray<string>> = {
  core: ["effect"],
  local: ["effect"],
  "checkpoint-redis": ["effect"],
  "checkpoint-dynamodb": ["effect"],
  metrics: ["effect", "@effect/platform", "@effect/platform-node"],
  cli: []
}

const peerVersion = (name: string): string =>
  name === "effect" ? workspaceVersion(name) : workspaceVersion(name, Path.join(root, "packages", "metrics"))

const mb = (bytes: number): number => bytes / 1e6

const suite: Suite = {
  name: "release",
  description:
    "The published packages as users install them (packed tarballs, npm, a project outside the workspace): " +
    "cold start, CLI start, sizes.",
  run: async () => {
    const work = tempDir("release-bench")
    try {
      cleanBuild()
      const tarballs = packAll(Path.join(work, "tarballs"))
      const app = Path.join(work, "app")
      Fs.mkdirSync(app)
      installProject(app, tarballs, {
        effect: workspaceVersion("effect"),
        "@aws-sdk/client-kinesis": workspaceVersion("@aws-sdk/client-kinesis", Path.join(root, "packages", "core"))
      })
      Fs.writeFileSync(Path.join(app, "ours.mjs"), ours)
      Fs.writeFileSync(Path.join(app, "baseline.mjs"), baseline)

      const rows: Array<Row> = []
      const start = alternate(
        () => wall(app, process.execPath, ["ours.mjs"]),
        () => wall(app, process.execPath, ["baseline.mjs"])
      )
      rows.push({
        case: "cold start: import core + build Kinesis.layer",
        unit: "ms",
        ours: start.a,
        baseline: { name: "import effect + @aws-sdk/client-kinesis, new KinesisClient", value: start.b },
        ratio: start.ratio,
        ratioMeaning: "ours ÷ baseline",
        goal: "≤ 1.2×",
        pass: start.ratio <= 1.2
      })
      const bin = Path.join(app, "node_modules", ".bin", "effect-kinesis")
      const version = alternate(() => wall(app, bin, ["--version"]), () => wall(app, process.execPath, ["-e", "0"]))
      rows.push({
        case: "effect-kinesis --version (installed bin)",
        unit: "ms",
        ours: version.a,
        baseline: { name: "node -e 0", value: version.b },
        ratio: version.ratio,
        ratioMeaning: "ours ÷ baseline",
        goal: "≤ 500 ms",
        pass: version.a <= 500
      })

      for (const tarball of tarballs) {
        const alone = Path.join(work, `alone-${tarball.dir}`)
        Fs.mkdirSync(alone)
        // the tarballs of the other packages only serve as this one's dependencies (overrides)
        installProject(
          alone,
          tarballs,
          Object.fromEntries(requiredPeers[tarball.dir].map((peer) => [peer, peerVersion(peer)])),
          [tarball]
        )
        const installed = directoryBytes(Path.join(alone, "node_modules"))
        rows.push({
          case: `${tarball.name}: tarball / unpacked / install (with required peers)`,
          unit: "MB",
          ours: mb(installed),
          baseline: {
            name: `tarball ${mb(Fs.statSync(tarball.file).size).toFixed(2)} MB, unpacked`,
            value: mb(unpackedBytes(tarball))
          }
        })
      }
      return {
        rows,
        notes: `
- Cold start runs ${ROUNDS} alternated rounds of two new processes after one warm-up each. Both sides import
  the \`effect\` barrel, as a program does; ours then loads the built core (its deep imports of effect, the SDK
  client, msgpackr) and builds and releases the layer.
- The size rows: "ours" is the install size (\`du -sb node_modules\` of a project with only that package and
  the peers it requires, with npm); "baseline" names the tarball's size and gives its unpacked size.
- The CLI is one esbuild bundle (scripts/bundle-cli.ts) with no dependencies: before it, the CLI ran through
  tsx (1.1 s to \`--version\`, and a 169 MB install with tsx and the local servers), and its compiled but
  unbundled modules took 0.9–1.0 s to \`--version\` on this machine (Node loads ~700 module files one by one).`
      }
    } finally {
      Fs.rmSync(work, { recursive: true, force: true })
    }
  }
}

export default suite
