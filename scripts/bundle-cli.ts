/**
 * Builds the `effect-kinesis` bin: packages/cli/src/bin.ts and everything it imports (Effect, @effect/cli,
 * the AWS SDK, our packages, ioredis) bundled by esbuild into ESM files under packages/cli/bundle/, split
 * so that each command's code and the Redis / DynamoDB clients load only when used.
 *
 * Why a bundle: node resolves and loads each ES module file separately, and the CLI's graph is ~700
 * files — 0.9–1.0 s before `--version` could print (measured from the installed unbundled build; see
 * BENCHMARKS.md, `release`). The bundle starts in a third of that, and the package installs with no
 * dependencies. `@effect-kinesis/local` (the embedded kinesalite of `bench`) stays outside: an optional
 * peer, imported when that command runs. The licenses of the bundled packages are collected into
 * bundle/THIRD-PARTY-NOTICES.md.
 *
 *   tsx scripts/bundle-cli.ts
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const cli = Path.join(root, "packages", "cli")
const outdir = Path.join(cli, "bundle")

/** The package an input file of the bundle belongs to (its node_modules path), or undefined for ours. */
const packageOf = (input: string): { readonly name: string; readonly dir: string } | undefined => {
  const marker = "node_modules/"
  const at = input.lastIndexOf(marker)
  if (at < 0) return undefined
  const rest = input.slice(at + marker.length).split("/")
  const name = rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  return { name, dir: Path.join(root, input.slice(0, at + marker.length), name) }
}

const notices = (inputs: ReadonlyArray<string>): string => {
  const seen = new Map<string, string>()
  for (const input of inputs) {
    const pkg = packageOf(input)
    if (pkg !== undefined && !seen.has(pkg.name)) seen.set(pkg.name, pkg.dir)
  }
  // packages with the same license text (the AWS SDK's ~60 share one Apache-2.0 file) are listed once
  const byText = new Map<string, Array<string>>()
  for (const [name, dir] of [...seen].sort(([a], [b]) => a.localeCompare(b))) {
    const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) as {
      readonly version: string
      readonly license?: string
    }
    const licenseFile = Fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f))
    const text = licenseFile === undefined
      ? `(no license file in the package; its package.json says ${manifest.license ?? "nothing"})`
      : Fs.readFileSync(Path.join(dir, licenseFile), "utf8").trim()
    const names = byText.get(text) ?? []
    names.push(`${name}@${manifest.version} (${manifest.license ?? "unknown"})`)
    byText.set(text, names)
  }
  const sections = [...byText].map(([text, names]) => `## ${names.join(", ")}\n\n\`\`\`\n${text}\n\`\`\``)
  return `# Third-party notices\n\nThe effect-kinesis CLI bundle (this folder) contains code of these packages.\n\n${
    sections.join("\n\n")
  }\n`
}

export const bundle = async (): Promise<void> => {
  Fs.rmSync(outdir, { recursive: true, force: true })
  const result = await esbuild.build({
    entryPoints: { bin: Path.join(cli, "src", "bin.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // the published package's own modules (not their TypeScript sources in this workspace)
    conditions: ["import", "node"],
    external: ["@effect-kinesis/local", "@effect-kinesis/local/*"],
    // CommonJS packages inside an ES module bundle still call require() for Node's built-ins
    banner: {
      js:
        "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
    },
    legalComments: "none",
    metafile: true,
    // metafile paths are relative to this directory
    absWorkingDir: root,
    logLevel: "warning"
  })
  Fs.writeFileSync(Path.join(outdir, "THIRD-PARTY-NOTICES.md"), notices(Object.keys(result.metafile.inputs)))
}

if (process.argv[1] !== undefined && import.meta.filename === Path.resolve(process.argv[1])) {
  await bundle()
}
