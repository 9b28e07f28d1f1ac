// What vitest.globalSetup.ts provides to every test (read with `inject("...")`).
import "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    readonly kinesalite: { readonly endpoint: string; readonly region: string }
    readonly kinesisLocal: { readonly endpoint: string; readonly region: string }
    readonly dynalite: { readonly endpoint: string; readonly region: string }
    readonly redis: { readonly url: string; readonly host: string; readonly port: number }
  }
}
