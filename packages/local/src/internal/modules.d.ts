// kinesalite and dynalite ship no type declarations; both export a factory of a node:http(s) Server.
declare module "kinesalite" {
  import type { Server } from "node:http"
  interface KinesaliteOptions {
    readonly createStreamMs?: number
    readonly deleteStreamMs?: number
    readonly updateStreamMs?: number
    readonly shardLimit?: number
    readonly path?: string
    readonly ssl?: boolean
  }
  const kinesalite: (options?: KinesaliteOptions) => Server
  export default kinesalite
}

declare module "dynalite" {
  import type { Server } from "node:http"
  interface DynaliteOptions {
    readonly createTableMs?: number
    readonly deleteTableMs?: number
    readonly updateTableMs?: number
    readonly maxItemSizeKb?: number
    readonly path?: string
  }
  const dynalite: (options?: DynaliteOptions) => Server
  export default dynalite
}
