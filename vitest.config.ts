import { defineConfig } from "vitest/config"

// vitest 3.2 deprecates workspace files (`vitest.workspace.ts`, `test.workspace`) in favour of
// `test.projects`: each package is a project with its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ["packages/*", "examples"]
  }
})
