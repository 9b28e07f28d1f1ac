/**
 * Also keeps README.md honest: a code fence right after `<!-- embed: examples/x.ts -->` is rewritten with
 * that file's content, so every README example is a file that CI typechecks.
 *
 * Writes each package's `src/index.ts`: one `export * as Module from "./Module.js"` per public module
 * (`src/*.ts`), preceded by the module's own top JSDoc — the index is generated, never edited by hand
 * (as `build-utils prepare-v3` does in Effect's monorepo).
 *
 *   tsx scripts/codegen.ts          rewrite the index files
 *   tsx scripts/codegen.ts --check  exit 1 if an index file is out of date
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const check = process.argv.includes("--check")

const topDoc = (source: string): string => {
  const match = /^\/\*\*[\s\S]*?\*\//.exec(source.trimStart())
  if (match === null) return "/**\n * @since 0.1.0\n */"
  const lines = match[0].split("\n").map((l) => l.trim())
  const body = lines.slice(1, -1).map((l) => l.replace(/^\* ?/, ""))
  const since = body.find((l) => l.startsWith("@since")) ?? "@since 0.1.0"
  const firstParagraph: Array<string> = []
  for (const line of body) {
    if (line === "" || line.startsWith("@")) break
    firstParagraph.push(line)
  }
  return [
    "/**",
    ...firstParagraph.map((l) => ` * ${l}`),
    ...(firstParagraph.length > 0 ? [" *"] : []),
    ` * ${since}`,
    " */"
  ]
    .join("\n")
}

export const generate = (packageDir: string): string => {
  const src = Path.join(packageDir, "src")
  const modules = Fs.readdirSync(src)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "index.ts")
    .sort()
  return modules
    .map((file) => {
      const name = file.slice(0, -3)
      return `${topDoc(Fs.readFileSync(Path.join(src, file), "utf8"))}\nexport * as ${name} from "./${name}.js"\n`
    })
    .join("\n")
}

let stale = 0
for (const dir of Fs.readdirSync(Path.join(root, "packages"))) {
  const packageDir = Path.join(root, "packages", dir)
  if (!Fs.existsSync(Path.join(packageDir, "src"))) continue
  const target = Path.join(packageDir, "src", "index.ts")
  const content = generate(packageDir)
  const current = Fs.existsSync(target) ? Fs.readFileSync(target, "utf8") : ""
  if (current === content) continue
  if (check) {
    console.error(`${Path.relative(root, target)} is out of date: run pnpm codegen`)
    stale++
  } else {
    Fs.writeFileSync(target, content)
    console.log(`wrote ${Path.relative(root, target)}`)
  }
}
const embed = (markdown: string): string =>
  markdown.replace(
    // the fence's lines up to the first line starting with ``` (an empty fence is fine)
    /<!-- embed: ([^ ]+) -->\n```(\w*)\n(?:(?!```)[^\n]*\n)*```/g,
    (_, file: string, lang: string) =>
      `<!-- embed: ${file} -->\n\`\`\`${lang}\n${Fs.readFileSync(Path.join(root, file), "utf8").trimEnd()}\n\`\`\``
  )

const readme = Path.join(root, "README.md")
if (Fs.existsSync(readme)) {
  const current = Fs.readFileSync(readme, "utf8")
  const content = embed(current)
  if (current !== content) {
    if (check) {
      console.error("README.md embeds out-of-date examples: run pnpm codegen")
      stale++
    } else {
      Fs.writeFileSync(readme, content)
      console.log("wrote README.md")
    }
  }
}

if (stale > 0) process.exit(1)
