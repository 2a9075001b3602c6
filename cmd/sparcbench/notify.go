package main

// The email section (issue 14, point 5): how long after a change commits
// its email reaches the SMTP server. A second app, built by the same
// composition root with --smtp-url set, does only the background work (as
// a replica would): it learns of the shared server's writes through the
// database's notifications and hands the emails to an SMTP sink in this
// process, which notes when each arrives. The floor beside it is the same
// email sent straight to the sink with net/smtp, no database involved.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/notify"
)

func init() {
	sections = append(sections, section{
		name: "notify",
		doc:  "email hand-off: CreateReferral committed -> the provider's email at the SMTP server (target p99 <= 1 s)",
		run:  runNotify,
	})
}

// smtpSink is the smallest SMTP server that accepts mail: it keeps, per
// referral linked in a message, when the message's DATA ended.
type smtpSink struct {
	l    net.Listener
	mu   sync.Mutex
	got  map[string]time.Time
	wg   sync.WaitGroup
	link *regexp.Regexp
}

func startSink() (*smtpSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &smtpSink{l: l, got: map[string]time.Time{}, link: regexp.MustCompile(`/v1/referrals/([0-9a-f-]{36})`)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	return s, nil
}

func (s *smtpSink) port() string { _, p, _ := net.SplitHostPort(s.l.Addr().String()); return p }

func (s *smtpSink) close() { s.l.Close(); s.wg.Wait() }

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sparcbench ESMTP")
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "EHLO":
			_ = tp.PrintfLine("250-sparcbench")
			_ = tp.PrintfLine("250 8BITMIME")
		case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
			_ = tp.PrintfLine("250 OK")
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			lines, err := tp.ReadDotLines()
			if err != nil {
				return
			}
			at := time.Now()
			for _, l := range lines {
				if m := s.link.FindStringSubmatch(l); m != nil {
					s.mu.Lock()
					if _, dup := s.got[m[1]]; !dup {
						s.got[m[1]] = at
					}
					s.mu.Unlock()
					break
				}
			}
			_ = tp.PrintfLine("250 OK queued")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 not implemented")
		}
	}
}

func (s *smtpSink) received(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.got[id]
	return t, ok
}

func runNotify(ctx context.Context, b *bench) error {
	rb, err := newReferralBench(ctx, b)
	if err != nil {
		return err
	}
	defer rb.stop()
	if _, err := b.raw.Exec(ctx, `UPDATE organisations SET contact_email = 'group@bench.invalid'
		WHERE id = (SELECT owner_organisation FROM assets WHERE id = $1)`, strings.TrimPrefix(rb.asset, "assets/")); err != nil {
		return err
	}
	sink, err := startSink()
	if err != nil {
		return err
	}
	defer sink.close()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)

	// A backlog for one organisation, committed before the mailing replica
	// starts: how fast it drains is the ceiling of one recipient's emails
	// (they go in order, one after another), which the latency cells below
	// must stay under.
	var backlog []string
	var backlogMu sync.Mutex
	if _, err := measure(ctx, b.cpu, nil, 8, 0, 0, 0, notifyBacklog, func(ctx context.Context, i int) error {
		r, err := rb.lw.CreateReferral(ctx, referralRequest(rb, fmt.Sprintf("drain-%s-%d", run, i), i))
		if err == nil {
			backlogMu.Lock()
			backlog = append(backlog, strings.TrimPrefix(r.GetName(), "referrals/"))
			backlogMu.Unlock()
		}
		return err
	}); err != nil {
		return err
	}

	// The mailing replica.
	pool, err := db.OpenApp(ctx, b.url, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	mctx, stopMail := context.WithCancel(ctx)
	defer stopMail()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mailer, err := app.New(mctx, pool, app.Config{Auth: benchAuth, Server: benchServer(log), Logger: log,
		Notify: notify.Config{SMTP: &notify.SMTP{Host: "127.0.0.1", Port: sink.port(), NoTLS: true},
			From: "SPARC bench <sparc@bench.invalid>", PublicURL: "https://bench.invalid"}})
	if err != nil {
		return err
	}
	cpu0, t0 := b.cpu.sample(), time.Now()
	runDone := make(chan struct{})
	go func() { mailer.Run(mctx); close(runDone) }()
	defer func() { stopMail(); <-runDone }()
	var last time.Time
	if _, missing, err := arrivals(ctx, sink, backlog, func(id string, at time.Time) {
		if at.After(last) {
			last = at
		}
	}); err != nil {
		return err
	} else if missing > 0 {
		return fmt.Errorf("%d of %d queued emails did not arrive within 30 s", missing, len(backlog))
	}
	drainCPU := b.cpu.sample().sub(cpu0)
	drained := last.Sub(t0)

	floor, err := smtpFloor(sink, 200)
	if err != nil {
		return err
	}
	b.printf("each CreateReferral through the shared server (gRPC); latency = the email's arrival at the SMTP sink minus\n" +
		"the moment the call was made (so it includes the create itself: an upper bound on commit -> hand-off), and\n" +
		"minus the moment its answer came (the commit came before it: a lower bound; an email may beat the answer).\n" +
		"The mailing replica learns of commits through PostgreSQL notifications, as a second sparcd would.\n")
	w := b.table()
	fmt.Fprintln(w, "path\twriters\temails\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	fmt.Fprintf(w, "net/smtp straight to the sink (floor)\t1\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", len(floor),
		ms(quantile(floor, 0.5)), ms(quantile(floor, 0.95)), ms(quantile(floor, 0.99)), ms(floor[len(floor)-1]))
	for _, writers := range []int{1, 8} {
		var mu sync.Mutex
		started := map[string]time.Time{}
		answered := map[string]time.Time{} // the change committed between the call and its answer
		op := func(ctx context.Context, i int) error {
			t0 := time.Now()
			r, err := rb.lw.CreateReferral(ctx, referralRequest(rb, fmt.Sprintf("mail-%s-%d-%d", run, writers, i), i))
			if err != nil {
				return err
			}
			t1 := time.Now()
			mu.Lock()
			started[strings.TrimPrefix(r.GetName(), "referrals/")] = t0
			answered[strings.TrimPrefix(r.GetName(), "referrals/")] = t1
			mu.Unlock()
			return nil
		}
		if _, err := measure(ctx, b.cpu, nil, writers, 0, 0, b.cfg.duration, b.cfg.requests, op); err != nil {
			return err
		}
		var lat, after []time.Duration
		_, missing, err := arrivals(ctx, sink, slices.Collect(maps.Keys(started)), func(id string, at time.Time) {
			lat = append(lat, at.Sub(started[id]))
			after = append(after, at.Sub(answered[id]))
		})
		if err != nil {
			return err
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d emails did not arrive within 30 s", missing, len(started))
		}
		slices.Sort(lat)
		slices.Sort(after)
		fmt.Fprintf(w, "CreateReferral -> email at the sink\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", writers, len(lat),
			ms(quantile(lat, 0.5)), ms(quantile(lat, 0.95)), ms(quantile(lat, 0.99)), ms(lat[len(lat)-1]))
		fmt.Fprintf(w, "  its answer -> email at the sink (lower bound)\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", writers, len(after),
			ms(quantile(after, 0.5)), ms(quantile(after, 0.95)), ms(quantile(after, 0.99)), ms(after[len(after)-1]))
		b.check(target{what: fmt.Sprintf("email hand-off p99, %d writer(s)", writers), measured: ms(quantile(lat, 0.99)),
			unit: "ms", op: "<=", goal: 1000, atScale: true})
	}
	w.Flush()
	cpu := drainCPU.self + drainCPU.pg
	b.printf("backlog: %d emails to one organisation, queued before the mailing replica started, handed off in %.0f ms:\n"+
		"%.0f emails/s; CPU per email %.2f ms (this process %.2f + PostgreSQL %.2f; the writers were idle).\n",
		len(backlog), ms(drained), float64(len(backlog))/drained.Seconds(), ms(cpu)/float64(len(backlog)),
		ms(drainCPU.self)/float64(len(backlog)), ms(drainCPU.pg)/float64(len(backlog)))
	return nil
}

// notifyBacklog is how many emails the drain measure queues.
const notifyBacklog = 2000

// arrivals waits (up to 30 s) for the emails of referrals ids at the sink
// and calls got for each with its arrival time; missing counts those that
// never came.
func arrivals(ctx context.Context, sink *smtpSink, ids []string, got func(id string, at time.Time)) (n, missing int, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing = 0
		for _, id := range ids {
			if _, ok := sink.received(id); !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling the sink, bounded: a measurement, not a test
		}
	}
	for _, id := range ids {
		if at, ok := sink.received(id); ok {
			got(id, at)
			n++
		}
	}
	return n, missing, nil
}

// smtpFloor sends n emails straight to the sink, one connection each as
// a turn of the worker opens one, and returns the sorted times.
func smtpFloor(sink *smtpSink, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		t0 := time.Now()
		msg := fmt.Sprintf("Subject: floor\r\n\r\nhttps://bench.invalid/v1/referrals/00000000-0000-0000-0000-%012d\r\n", i)
		if err := smtp.SendMail("127.0.0.1:"+sink.port(), nil, "sparc@bench.invalid", []string{"group@bench.invalid"}, []byte(msg)); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}

// referralRequest is the request rb.create sends, with request id rid.
func referralRequest(rb *referralBench, rid string, i int) *sparcv1.CreateReferralRequest {
	return &sparcv1.CreateReferralRequest{RequestId: rid, Person: "people/" + rb.people[i%len(rb.people)], Asset: rb.asset,
		Reasons: []string{"social_connection"}, ProviderNote: "Prefers mornings"}
}
