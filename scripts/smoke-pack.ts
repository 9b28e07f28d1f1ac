/**
 * `pnpm smoke:pack`: proves that what users install works. Builds and packs every package, installs the
 * tarballs with npm into a new project outside the workspace (scripts/pack.ts), and there:
 *
 * 1. `node app.mjs` — kinesalite through the packed @effect-kinesis/local, 1,000 records through
 *    `Producer.sink`, read back with `Consumer.stream` and checked; `node require.cjs` — the ESM-only
 *    packages load through `require()`; `node internal.mjs` — `internal/*` is not exported;
 * 2. `tsc --noEmit` on app.ts with the user's strictest flags (strict, noUncheckedIndexedAccess,
 *    exactOptionalPropertyTypes, NodeNext, skipLibCheck: false) and again with `strict: false`;
 * 3. the installed `effect-kinesis`: `--version`, `streams --endpoint <kinesalite>`, and
 *    `bench --local` without @effect-kinesis/local installed, which must print one line naming it.
 *
 * The tarballs must also carry README.md and LICENSE, and no tests, tsconfigs or build info.
 * Any failure exits non-zero. `--keep` leaves the temporary project for a look.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  cleanBuild,
  cleanEnv,
  installProject,
  packAll,
  root,
  run,
  type Tarball,
  tempDir,
  workspaceVersion
} from "./pack.js"

const keep = process.argv.includes("--keep")
const started = performance.now()
const step = (text: string) =>
  console.log(`smoke:pack: ${text} (${((performance.now() - started) / 1000).toFixed(1)} s)`)

const fail = (text: string): never => {
  console.error(`smoke:pack: FAILED: ${text}`)
  process.exit(1)
}

/** Every file in a tarball (tar's listing, without the leading `package/`). */
const contents = (tarball: Tarball): ReadonlyArray<string> =>
  run("tar", ["-tzf", tarball.file], root).split("\n").filter((l) => l.length > 0).map((l) =>
    l.replace(/^package\//, "")
  )

const checkTarball = (tarball: Tarball): void => {
  const files = contents(tarball)
  const built = tarball.dir === "cli"
    ? ["bin/effect-kinesis.js", "bundle/bin.js", "bundle/THIRD-PARTY-NOTICES.md"]
    : ["dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/index.d.ts.map", "src/index.ts"]
  for (const required of ["package.json", "README.md", "LICENSE", ...built]) {
    if (!files.includes(required)) fail(`${tarball.name}: the tarball has no ${required}`)
  }
  const stray = files.filter((f) =>
    f.startsWith("test/") || f.startsWith("build/") || f.includes("tsconfig") || f.endsWith(".tsbuildinfo")
  )
  if (stray.length > 0) fail(`${tarball.name}: the tarball carries ${stray.slice(0, 5).join(", ")}`)
  const manifest = JSON.parse(run("tar", ["-xzOf", tarball.file, "package/package.json"], root))
  const text = JSON.stringify(manifest)
  if (text.includes("workspace:")) fail(`${tarball.name}: package.json still says workspace:`)
  if (text.includes("./src/")) fail(`${tarball.name}: package.json still points at ./src/`)
}

/** The environment of the user's programs: the AWS SDK's notice that its 2027 releases need Node 22 is muted. */
const userEnv = { ...cleanEnv(), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }

const node = (project: string, args: ReadonlyArray<string>, what: string): void => {
  const result = spawnSync(process.execPath, args, { cwd: project, encoding: "utf8", stdio: "inherit", env: userEnv })
  if (result.status !== 0) fail(`${what} exited with ${result.status}`)
}

const main = () => {
  step("building every package from a clean slate")
  cleanBuild()
  const work = tempDir("smoke")
  step(`packing into ${work}`)
  const tarballs = packAll(Path.join(work, "tarballs"))
  for (const tarball of tarballs) checkTarball(tarball)

  const project = Path.join(work, "app")
  Fs.mkdirSync(project)
  step(`installing the tarballs with npm into ${project}`)
  // the user's own dependencies, at the versions this workspace tests with
  const versions = (names: ReadonlyArray<string>) => Object.fromEntries(names.map((n) => [n, workspaceVersion(n)]))
  installProject(project, tarballs, {
    ...versions(["effect", "typescript", "@types/node", "vitest", "@effect/vitest"]),
    "@effect/platform": workspaceVersion("@effect/platform", Path.join(root, "packages", "metrics")),
    "@effect/platform-node": workspaceVersion("@effect/platform-node", Path.join(root, "packages", "metrics"))
  })
  for (const file of Fs.readdirSync(Path.join(import.meta.dirname, "smoke"))) {
    Fs.copyFileSync(Path.join(import.meta.dirname, "smoke", file), Path.join(project, file))
  }
  if (Fs.existsSync(Path.join(project, "node_modules", "tsx"))) fail("tsx was installed: something depends on it")

  step("1. node app.mjs, require.cjs, internal.mjs")
  node(project, ["app.mjs"], "node app.mjs")
  node(project, ["require.cjs"], "node require.cjs")
  node(project, ["internal.mjs"], "node internal.mjs")

  step("2. tsc --noEmit (strict flags, skipLibCheck: false), then with strict: false")
  const tsc = Path.join(project, "node_modules", "typescript", "bin", "tsc")
  node(project, [tsc, "-p", "tsconfig.json"], "tsc -p tsconfig.json")
  node(project, [tsc, "-p", "tsconfig.loose.json"], "tsc -p tsconfig.loose.json")

  step("3. effect-kinesis --version, streams, bench --local without @effect-kinesis/local")
  node(project, ["cli.mjs"], "node cli.mjs")
  const local = Path.join(project, "node_modules", "@effect-kinesis", "local")
  Fs.renameSync(local, `${local}.hidden`)
  const bench = spawnSync(Path.join(project, "node_modules", ".bin", "effect-kinesis"), ["bench", "--local"], {
    cwd: project,
    encoding: "utf8",
    env: userEnv
  })
  Fs.renameSync(`${local}.hidden`, local)
  const lines = bench.stderr.trim().split("\n")
  if (bench.status !== 1 || lines.length !== 1 || !lines[0]!.includes("@effect-kinesis/local")) {
    fail(`bench --local without the local package: exit ${bench.status}, stderr:\n${bench.stderr}`)
  }
  console.log(`  ${lines[0]}`)

  if (keep) step(`kept ${work}`)
  else Fs.rmSync(work, { recursive: true, force: true })
  step("passed")
}

main()
