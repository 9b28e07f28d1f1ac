/**
 * What users install, made here: builds every package from a clean slate, packs each with pnpm (which
 * applies `publishConfig` and turns `workspace:^` into version ranges, as `pnpm publish` does) and
 * installs the tarballs with npm into a new project outside the workspace — no workspace links, no
 * tsx. Used by `pnpm smoke:pack` (scripts/smoke-pack.ts) and the `release` benchmark.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "..")

/** The published packages, in dependency order (folder under packages/ → npm name). */
export const packages = [
  "core",
  "local",
  "checkpoint-redis",
  "checkpoint-dynamodb",
  "metrics",
  "cli"
] as const

export type PackageDir = (typeof packages)[number]

const pnpm = ["-y", "pnpm@10.34.9"]

export const run = (command: string, args: ReadonlyArray<string>, cwd: string, env?: NodeJS.ProcessEnv): string =>
  execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: env ?? cleanEnv(),
    maxBuffer: 64 * 1024 * 1024
  })

const manifest = (dir: string): { readonly name: string; readonly version: string } =>
  JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))

/** The version the workspace resolved for a dependency (so the installed project uses the same one). */
export const workspaceVersion = (name: string, from: string = root): string =>
  manifest(Path.join(from, "node_modules", name)).version

export interface Tarball {
  readonly dir: PackageDir
  readonly name: string
  readonly version: string
  readonly file: string
}

/**
 * Removes every package's build output and builds them all again: `tsc -b tsconfig.build.json` for the
 * libraries, scripts/bundle-cli.ts for the CLI.
 */
export const cleanBuild = (): void => {
  for (const dir of packages) {
    Fs.rmSync(Path.join(root, "packages", dir, "dist"), { recursive: true, force: true })
    Fs.rmSync(Path.join(root, "packages", dir, "build", "tsbuildinfo", "build.tsbuildinfo"), { force: true })
  }
  run("npx", ["tsc", "-b", "tsconfig.build.json"], root)
  run("npx", ["tsx", "scripts/bundle-cli.ts"], root)
}

/** This process's environment without what a package manager running us put there for itself. */
export const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm|pnpm)_/i.test(key)))

/** Packs every package into `destination` (after `cleanBuild`). */
export const packAll = (destination: string): ReadonlyArray<Tarball> => {
  Fs.mkdirSync(destination, { recursive: true })
  return packages.map((dir) => {
    const packageDir = Path.join(root, "packages", dir)
    const { name, version } = manifest(packageDir)
    run("npx", [...pnpm, "pack", "--pack-destination", destination], packageDir)
    const file = Path.join(destination, `${name.replace("@", "").replace("/", "-")}-${version}.tgz`)
    if (!Fs.existsSync(file)) throw new Error(`pnpm pack wrote no ${file}`)
    return { dir, name, version, file }
  })
}

/** A new empty directory under the OS's temporary directory: outside the workspace. */
export const tempDir = (prefix: string): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), `effect-kinesis-${prefix}-`))

/**
 * Writes a project in `dir` that depends on `dependOn` (default: every tarball) and on `extra`, by version,
 * and installs it with npm. All the tarballs serve their dependencies on each other (`overrides`), so npm
 * never asks the registry for an `@effect-kinesis/*` package.
 */
export const installProject = (
  dir: string,
  tarballs: ReadonlyArray<Tarball>,
  extra: Readonly<Record<string, string>>,
  dependOn: ReadonlyArray<Tarball> = tarballs
): void => {
  const local = Object.fromEntries(tarballs.map((t) => [t.name, `file:${t.file}`]))
  const direct = Object.fromEntries(dependOn.map((t) => [t.name, `file:${t.file}`]))
  Fs.writeFileSync(
    Path.join(dir, "package.json"),
    JSON.stringify(
      {
        name: "effect-kinesis-user",
        private: true,
        type: "module",
        dependencies: { ...direct, ...extra },
        overrides: local
      },
      null,
      2
    )
  )
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir, cleanEnv())
}

/** Bytes under `dir`, as `du -sb` counts them (apparent sizes). */
export const directoryBytes = (dir: string): number => Number(run("du", ["-sb", dir], root).split("\t")[0])
