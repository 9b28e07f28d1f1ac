import type { ViteUserConfig } from "vitest/config";
/** Settings every package's vitest project shares (imported by packages/{name}/vitest.config.ts). */
declare const config: ViteUserConfig;
export default config;
//# sourceMappingURL=vitest.shared.d.ts.map