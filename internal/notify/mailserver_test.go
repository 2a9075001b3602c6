package notify_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) started
// by a test: it keeps every message it accepted, and can be stopped and
// started again on the same address (an outage).
type mailServer struct {
	t        testing.TB
	addr     string
	tls      *tls.Config // STARTTLS offered (or implicit TLS) with this
	implicit bool
	user     string // AUTH PLAIN required with user/pass when set
	pass     string

	mu   sync.Mutex
	srv  *smtp.Server
	l    net.Listener // closed by stop too: Close misses a listener Serve has not registered yet
	got  []received
	auth int // successful AUTHs
}

// received is one accepted message.
type received struct {
	From    string
	To      []string
	Subject string
	Body    string // decoded
	Raw     string
	ID      string // Message-ID
}

func (m *mailServer) start() {
	m.t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	s.Domain = "localhost"
	s.AllowInsecureAuth = false
	s.TLSConfig = m.tls
	s.ErrorLog = discardLog{}
	addr := m.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	if m.implicit {
		l, err = tls.Listen("tcp", addr, m.tls)
	} else {
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		m.t.Fatalf("mail server: %v", err)
	}
	m.addr = l.Addr().String()
	m.mu.Lock()
	m.srv, m.l = s, l
	m.mu.Unlock()
	go func() { _ = s.Serve(l) }()
}

func (m *mailServer) stop() {
	m.mu.Lock()
	s, l := m.srv, m.l
	m.srv, m.l = nil, nil
	m.mu.Unlock()
	if l != nil {
		_ = l.Close()
	}
	if s != nil {
		_ = s.Close()
	}
}

func (m *mailServer) port() string {
	_, p, _ := net.SplitHostPort(m.addr)
	return p
}

func (m *mailServer) messages() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.got...)
}

func (m *mailServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

type mailSession struct {
	m      *mailServer
	authed bool
	from   string
	to     []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}

func (s *mailSession) AuthMechanisms() []string {
	if s.m.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.m.user || pass != s.m.pass {
			return errors.New("bad credentials")
		}
		s.authed = true
		s.m.mu.Lock()
		s.m.auth++
		s.m.mu.Unlock()
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.m.user != "" && !s.authed {
		return errAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.got = append(s.m.got, received{From: s.from, To: append([]string(nil), s.to...), Subject: subject,
		Body: strings.ReplaceAll(string(text), "\r\n", "\n"), Raw: string(raw), ID: msg.Header.Get("Message-ID")})
	s.m.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }
