// Package telemetry is how an operator sees a running sparcd: Prometheus
// metrics on a listener of their own (--metrics-addr, never the public
// API port) and OpenTelemetry traces exported over OTLP when the standard
// OTEL_* variables ask for them.
//
// It owns no table and runs no domain SQL: what it reports about the
// domains (delivery backlogs, the embedded database's restarts) it reads
// through small functions their owners export, handed over by the
// composition root (internal/app). It hands the transport
// (internal/server) its interceptors and handlers as hooks.Hooks.
//
// Both halves cost nothing when off: without --metrics-addr no metric is
// recorded, and without an OTLP endpoint no tracer, stats handler or
// query tracer is installed at all (not even a no-op one on the hot path).
package telemetry
