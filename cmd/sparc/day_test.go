package main

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/testenv"
)

// README's "A link worker's day" runs as a reader runs it: its shell
// block, unchanged but for the server's address, in bash with curl and jq,
// against sparcd's demo data and demo key file, with email going to a
// real SMTP server (github.com/emersion/go-smtp) started here, as sparcd
// --smtp-url … --public-url … sends it. Run twice, the second day finds
// the person registered on the first.
func TestLinkWorkersDayInREADME(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (Debian packages bash, curl, jq, poppler-utils: `make poppler`)", tool)
		}
	}
	script := daySection(t, readDoc(t, "README.md"))
	sink := startMailSink(t)
	smtpURL, err := notify.ParseSMTPURL("smtp://" + sink.addr + "?tls=none")
	if err != nil {
		t.Fatal(err)
	}

	// sparcd --demo with --smtp-url, --mail-from and --public-url.
	owner := testenv.NewPool(t)
	pool := testenv.AppPool(t, owner)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		Notify: notify.Config{SMTP: smtpURL, From: "SPARC <sparc@example.org>", PublicURL: "https://sparc.example.org"},
		Server: app.ServerConfig{ShutdownTimeout: 5 * time.Second}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Serve(t, ctx, cancel, a)
	base := "http://" + a.Server().HTTPAddr()
	if _, err := demo.Load(ctx, owner, a.Assets); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.LoadPostcodes(ctx, owner); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".sparc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Keys(ctx, a.Pool, filepath.Join(dir, ".sparc", "demo-keys.txt")); err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, "H=http://127.0.0.1:8080\n", "H="+base+"\n", 1)

	var firstPerson string
	for day := 1; day <= 2; day++ {
		out := runDay(t, dir, script)
		v := map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^@(\w+)=(.*)$`).FindAllStringSubmatch(out, -1) {
			v[m[1]] = m[2]
		}
		ref := v["REF"]
		if v["ASSET"] != demo.LadywoodWalkingGroup || !strings.HasPrefix(v["PERSON"], "people/") || !strings.HasPrefix(ref, "referrals/") {
			t.Fatalf("day %d: asset %q (want %s), person %q, referral %q:\n%s", day, v["ASSET"], demo.LadywoodWalkingGroup, v["PERSON"], ref, out)
		}
		if day == 1 {
			firstPerson = v["PERSON"]
		} else if v["PERSON"] != firstPerson {
			t.Errorf("day 2 registered %s again instead of finding %s", v["PERSON"], firstPerson)
		}
		if strings.Contains(out, "9434765919") || strings.Contains(out, "943 476 5919") {
			t.Errorf("day %d: the group read the NHS number:\n%s", day, out)
		}
		// What each step printed, in order: the section's sample output
		// (its "# → " lines, "…" standing for what varies) among it.
		var want []string
		for _, l := range strings.Split(script, "\n") {
			if sample, ok := strings.CutPrefix(l, "# → "); ok {
				if !strings.HasSuffix(sample, "…") {
					sample += "\n" // the whole line
				}
				want = append(want, strings.Split(sample, "…")...)
			}
		}
		if len(want) < 8 {
			t.Fatalf("the day's section shows %d samples of output; has its form changed?", len(want))
		}
		printed := out
		for _, w := range want {
			i := strings.Index(printed, w)
			if i < 0 {
				t.Fatalf("day %d: the walk-through did not print %q (in this order):\n%s", day, w, out)
			}
			printed = printed[i+len(w):]
		}

		// The printed referral: one page, the asset, where and when in
		// its local time (Tuesdays 10:00–11:30 in Birmingham).
		text, err := exec.Command("pdftotext", "-enc", "UTF-8", filepath.Join(dir, "referral.pdf"), "-").CombinedOutput()
		if err != nil {
			t.Fatalf("day %d: pdftotext: %v %s", day, err, text)
		}
		flat := strings.Join(strings.Fields(string(text)), " ")
		for _, want := range []string{"Your referral", "For: A. K.", "Ladywood walking group (demo)", "Reservoir gates, 12 Foundry Walk",
			"Tuesday", "10:00–11:30", "Referred by: Ladywood link worker service (demo)"} {
			if !strings.Contains(flat, want) {
				t.Errorf("day %d: the printed referral lacks %q:\n%s", day, want, flat)
			}
		}
		if strings.Count(string(text), "\f") != 1 {
			t.Errorf("day %d: the printed referral is not one page", day)
		}

		// The group's email: the asset and a link to the referral, nothing
		// about the person.
		var got sunk
		testenv.Until(t, 30*time.Second, "the group's email about "+ref, func() bool {
			for _, m := range sink.messages() {
				if strings.Contains(m.body, ref) {
					got = m
					return true
				}
			}
			return false
		})
		if got.to != "referrals@groups.example" || got.subject != "New referral to Ladywood walking group (demo)" ||
			!strings.Contains(got.body, "https://sparc.example.org/v1/"+ref) || strings.Contains(got.body, "A. K.") || strings.Contains(got.body, "0121") {
			t.Errorf("day %d: the group's email: to %s, subject %q:\n%s", day, got.to, got.subject, got.body)
		}
	}
}

// daySection is the shell block of README's "A link worker's day", with
// what the test reads back appended.
func daySection(t *testing.T, readme string) string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## A link worker's day\n")
	if !ok {
		t.Fatal(`README.md has no "## A link worker's day" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```sh\n")
	block, _, ok2 := strings.Cut(block, "\n```")
	if !ok || !ok2 || !strings.Contains(block, "H=http://127.0.0.1:8080\n") {
		t.Fatalf("the day's section has no sh block setting H=http://127.0.0.1:8080:\n%s", section)
	}
	return "set -euo pipefail\n" + block + "\nprintf '@ASSET=%s\\n@PERSON=%s\\n@REF=%s\\n' \"$ASSET\" \"$PERSON\" \"$REF\"\n"
}

// runDay runs script in bash in dir and returns what it printed.
func runDay(t *testing.T, dir, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s\n%s", err, out, stderr.String())
	}
	return string(out)
}

// mailSink is an SMTP server that keeps what it is sent.
type mailSink struct {
	addr string
	mu   sync.Mutex
	got  []sunk
}

// sunk is one message: its first recipient, subject and decoded body.
type sunk struct{ to, subject, body string }

func startMailSink(t *testing.T) *mailSink {
	t.Helper()
	m := &mailSink{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{m: m}, nil }))
	s.Domain = "localhost"
	m.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return m
}

func (m *mailSink) messages() []sunk {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sunk(nil), m.got...)
}

type sinkSession struct {
	m  *mailSink
	to string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Reset()                               { s.to = "" }
func (s *sinkSession) Logout() error                        { return nil }

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.to == "" {
		s.to = to
	}
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body)) // SPARC's emails are quoted-printable text
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.got = append(s.m.got, sunk{to: s.to, subject: subject, body: string(body)})
	s.m.mu.Unlock()
	return nil
}
