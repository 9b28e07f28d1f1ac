import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

/** Settings every package's vitest project shares (imported by packages/{name}/vitest.config.ts). */
const config: ViteUserConfig = {
  esbuild: { target: "es2022" },
  test: {
    setupFiles: [fileURLToPath(new URL("./vitest.setup.ts", import.meta.url))],
    include: ["test/**/*.test.ts", "test/**/*.test.mjs"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
}

export default config
