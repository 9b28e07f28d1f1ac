// parse-prometheus-text-format 1.1.1 ships no types: what its parser returns (see its README).
declare module "parse-prometheus-text-format" {
  export interface ParsedSample {
    readonly value?: string
    readonly labels?: Record<string, string>
    /** Histograms: `le` → cumulative count. */
    readonly buckets?: Record<string, string>
    /** Summaries: quantile → value. */
    readonly quantiles?: Record<string, string>
    readonly count?: string
    readonly sum?: string
    readonly timestamp_ms?: string
  }

  export interface ParsedFamily {
    readonly name: string
    readonly help: string
    readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED"
    readonly metrics: ReadonlyArray<ParsedSample>
  }

  export default function parsePrometheusTextFormat(text: string): Array<ParsedFamily>
}
