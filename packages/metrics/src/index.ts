/**
 * Every Effect metric of the process (the core's `KinesisMetrics` and your own) sent to Amazon
 * CloudWatch: periodically with PutMetricData, or as Embedded Metric Format (EMF) log lines for Lambda.
 *
 * @since 0.1.0
 */
export * as CloudWatchMetrics from "./CloudWatchMetrics.js"

/**
 * Every Effect metric of the process (the core's `KinesisMetrics` and your own) in the Prometheus text
 * exposition format 0.0.4, served over HTTP for Prometheus to scrape.
 *
 * @since 0.1.0
 */
export * as PrometheusMetrics from "./PrometheusMetrics.js"
