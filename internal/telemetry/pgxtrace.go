package telemetry

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// queryTracer makes a span of each query and batch (pgx's QueryTracer and
// BatchTracer; github.com/exaring/otelpgx is not on the module proxy
// here, and the few lines below hold exactly what may be recorded).
//
// It records the statement text (SPARC's SQL is constants with
// placeholders) and never the arguments, which carry names and NHS
// numbers. A failed query records its SQLSTATE only: PostgreSQL's detail
// repeats the offending row's values ("Key (x)=(...) already exists").
//
// Queries outside a traced request (the workers' polls, the notification
// listener) make no spans: they would be traces of their own, each one
// query long, and cost on every poll.
type queryTracer struct{ tracer trace.Tracer }

var dbSystem = semconv.DBSystemNamePostgreSQL

func (q *queryTracer) start(ctx context.Context, name string, attrs ...attribute.KeyValue) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	ctx, _ = q.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, dbSystem)...))
	return ctx
}

// end ends the span start began in ctx, if any.
func end(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	failed(span, err)
	span.End()
}

// failed marks span failed by err, saying no more than the SQLSTATE.
func failed(span trace.Span, err error) {
	if err == nil {
		return
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		span.SetAttributes(semconv.DBResponseStatusCode(pg.Code))
		span.SetStatus(codes.Error, "SQLSTATE "+pg.Code)
		return
	}
	span.SetStatus(codes.Error, "query failed")
}

// operation is the statement's first keyword (SELECT, INSERT, WITH...).
func operation(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexAny(sql, " \t\n("); i > 0 {
		sql = sql[:i]
	}
	return strings.ToUpper(sql)
}

func (q *queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	op := operation(data.SQL)
	return q.start(ctx, "db "+op, semconv.DBOperationName(op), semconv.DBQueryText(data.SQL))
}

func (q *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.Err)
}

// TraceBatchStart makes one span of a batch (a transaction's opening
// BEGIN, identity and first statement, or a worker's reads), with its
// statements' text joined: a span per statement would cost more than
// many of the statements.
func (q *queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	sqls := make([]string, len(data.Batch.QueuedQueries))
	for i, qq := range data.Batch.QueuedQueries {
		sqls[i] = qq.SQL
	}
	return q.start(ctx, "db batch", semconv.DBOperationName("BATCH"), semconv.DBOperationBatchSize(len(sqls)),
		semconv.DBQueryText(strings.Join(sqls, ";\n")))
}

// TraceBatchQuery marks the batch's span failed by a failed statement.
func (q *queryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if data.Err != nil {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			failed(span, data.Err)
		}
	}
}

func (q *queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, data.Err)
}
