/**
 * Builds the CLI's bundle (scripts/bundle-cli.ts) before the CLI's tests run, so they run the bin as it
 * is published, built from the sources of this checkout.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const script = fileURLToPath(new URL("../../../scripts/bundle-cli.ts", import.meta.url))
  execFileSync(process.execPath, ["--import", "tsx", script], { stdio: "inherit" })
}
