/**
 * The API reference's check, run by `pnpm check`: every public module of every published library
 * (`packages/<pkg>/src/*.ts` and `src/testing/*.ts`, not `internal/`, not the generated `index.ts`) opens
 * with a JSDoc that has `@since`, and every export in it has a JSDoc with `@since` — the version a user
 * can rely on it from. (The CLI is published as a bin: its modules are not an API.)
 *
 *   tsx scripts/docs-check.ts
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const libraries = ["core", "local", "checkpoint-redis", "checkpoint-dynamodb", "metrics"]

export const publicModules = (): ReadonlyArray<string> =>
  libraries.flatMap((pkg) => {
    const src = Path.join(root, "packages", pkg, "src")
    return ["", "testing"].flatMap((sub) => {
      const dir = Path.join(src, sub)
      if (!Fs.existsSync(dir)) return []
      return Fs.readdirSync(dir)
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "index.ts")
        .map((f) => Path.join(dir, f))
    })
  })

const hasSince = (node: ts.Node): boolean =>
  ts.getJSDocTags(node).some((tag) => tag.tagName.text === "since") ||
  // a variable's JSDoc sits on its statement
  (ts.isVariableDeclaration(node) && ts.isVariableDeclarationList(node.parent) &&
    ts.getJSDocTags(node.parent.parent).some((tag) => tag.tagName.text === "since"))

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

/** `file: name` for every export of `file` without `@since` (and the module doc, if it has none). */
export const missing = (file: string): ReadonlyArray<string> => {
  const text = Fs.readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const where = Path.relative(root, file)
  const out: Array<string> = []
  const header = /^\/\*\*[\s\S]*?\*\//.exec(text.trimStart())
  if (header === null || !header[0].includes("@since")) out.push(`${where}: the module's opening JSDoc has no @since`)
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      out.push(`${where}: re-export "${statement.getText().slice(0, 60)}" (export each binding with its own JSDoc)`)
      continue
    }
    if (!isExported(statement)) continue
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (!hasSince(declaration)) out.push(`${where}: ${declaration.name.getText()}`)
      }
      continue
    }
    const name = (statement as ts.DeclarationStatement).name?.getText() ?? "(default)"
    if (!hasSince(statement)) out.push(`${where}: ${name}`)
  }
  return out
}

if (process.argv[1] !== undefined && import.meta.filename === Path.resolve(process.argv[1])) {
  const problems = publicModules().flatMap(missing)
  if (problems.length > 0) {
    console.error(`${problems.length} public exports have no @since (see CONTRIBUTING.md, "API reference"):`)
    for (const problem of problems) console.error(`  ${problem}`)
    process.exit(1)
  }
}
