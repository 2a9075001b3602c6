package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

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
// A span is named by its statement's summary (db.query.summary: the
// operation and its first table, "INSERT referrals", "SELECT assets")
// and, only when the operator asks (SPARC_TRACE_SQL=text), carries the
// statement text too (SPARC's SQL is constants with placeholders). It
// never carries the arguments, which hold names and NHS numbers. A failed
// query records its SQLSTATE only: PostgreSQL's detail repeats the
// offending row's values ("Key (x)=(...) already exists").
//
// What a statement's span carries is worked out once per distinct
// statement and reused (statements), so a query's span costs the SDK's
// span and no parsing, string building or attribute slice of ours.
//
// Queries outside a sampled request make no spans: the workers' polls and
// the notification listener have no span at all (they would be traces of
// their own, each one query long), and a request the sampler left out has
// a span that records nothing, under which a database span would record
// nothing either.
type queryTracer struct {
	tracer trace.Tracer
	text   bool // record db.query.text as well as the summary

	stmts sync.Map // SQL text → *statement
	n     atomic.Int32
}

// maxStatements bounds the statements remembered: SPARC's are a few
// hundred constants; SQL built per call would otherwise grow the map.
const maxStatements = 4096

// statement is what every span of one SQL statement carries, built once.
type statement struct {
	summary string
	opts    []trace.SpanStartOption
}

func newQueryTracer(tracer trace.Tracer, text bool) *queryTracer {
	return &queryTracer{tracer: tracer, text: text}
}

// statement returns sql's span name and options, remembered per text.
func (q *queryTracer) statement(sql string) *statement {
	if s, ok := q.stmts.Load(sql); ok {
		return s.(*statement)
	}
	op, summary := summarise(sql)
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL, semconv.DBOperationName(op), semconv.DBQuerySummary(summary)}
	if q.text {
		attrs = append(attrs, semconv.DBQueryText(sql))
	}
	s := &statement{summary: summary, opts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}}
	if q.n.Load() < maxStatements {
		if _, loaded := q.stmts.LoadOrStore(sql, s); !loaded {
			q.n.Add(1)
		}
	}
	return s
}

// sampled tells whether ctx's span records: a query under it may then
// have a span of its own (the parent-based samplers decide a child as its
// parent was decided).
func sampled(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// end ends the span TraceQueryStart or TraceBatchStart began in ctx. It
// began one exactly when ctx's parent was recording, so a span that is not
// recording here is the unsampled parent's, which is not ours to end.
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

func (q *queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !sampled(ctx) {
		return ctx
	}
	s := q.statement(data.SQL)
	ctx, _ = q.tracer.Start(ctx, s.summary, s.opts...)
	return ctx
}

func (q *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.Err)
}

// TraceBatchStart makes one span of a batch (a transaction's opening
// BEGIN, identity and first statement, or a worker's reads), summarised
// by its statements' summaries in order: a span per statement would cost
// more than many of the statements.
func (q *queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !sampled(ctx) {
		return ctx
	}
	qs := data.Batch.QueuedQueries
	var summary strings.Builder
	var texts []string
	for i, qq := range qs {
		if i > 0 {
			summary.WriteString("; ")
		}
		summary.WriteString(q.statement(qq.SQL).summary)
		if q.text {
			texts = append(texts, qq.SQL)
		}
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL, semconv.DBOperationName("BATCH"),
		semconv.DBOperationBatchSize(len(qs)), semconv.DBQuerySummary(summary.String())}
	if q.text {
		attrs = append(attrs, semconv.DBQueryText(strings.Join(texts, ";\n")))
	}
	ctx, _ = q.tracer.Start(ctx, "BATCH", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
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
