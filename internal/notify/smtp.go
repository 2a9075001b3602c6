package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SMTP is where emails go, as --smtp-url gives it:
//
//	smtp://user:pass@host:587   STARTTLS, required (the server must offer it)
//	smtps://user:pass@host:465  implicit TLS
//	smtp://host:25?tls=none     no TLS at all: a local relay or a test
//	                            catcher only; credentials are refused
//
// The user and password are optional (AUTH PLAIN, only ever over TLS).
type SMTP struct {
	Host, Port     string
	User, Password string
	ImplicitTLS    bool
	NoTLS          bool
	// TLS is the client configuration (nil: the system roots and Host as
	// the server name); tests set RootCAs.
	TLS *tls.Config
}

// ParseSMTPURL reads --smtp-url.
func ParseSMTPURL(s string) (*SMTP, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL") // the parser's message would repeat the password
	}
	c := &SMTP{Host: u.Hostname(), Port: u.Port()}
	switch u.Scheme {
	case "smtp":
		if c.Port == "" {
			c.Port = "587"
		}
	case "smtps":
		c.ImplicitTLS = true
		if c.Port == "" {
			c.Port = "465"
		}
	default:
		return nil, fmt.Errorf("scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	if c.Host == "" {
		return nil, errors.New("no host")
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return nil, fmt.Errorf("unknown parameter %q (only tls=none)", k)
		}
	}
	switch q.Get("tls") {
	case "":
	case "none":
		if c.ImplicitTLS {
			return nil, errors.New("smtps:// with tls=none")
		}
		if c.User != "" {
			return nil, errors.New("tls=none with credentials: they would cross the network in clear")
		}
		c.NoTLS = true
	default:
		return nil, fmt.Errorf("tls=%q: only tls=none", q.Get("tls"))
	}
	return c, nil
}

// Redacted is the URL without its password, for logs.
func (c *SMTP) Redacted() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, c.Port)}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	if c.NoTLS {
		u.RawQuery = "tls=none"
	}
	return u.String()
}

func (c *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS != nil {
		cfg = c.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = c.Host
	}
	return cfg
}

// session is one SMTP connection, used for the emails of one turn.
type session struct {
	conn   net.Conn
	client *smtp.Client
}

// dial connects, secures and authenticates within timeout.
func (c *SMTP) dial(ctx context.Context, timeout time.Duration) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, c.Port)
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if c.ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: c.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	// The whole conversation up to the first email is bounded; each email
	// sets its own deadline.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &session{conn: conn, client: cl}
	if !c.ImplicitTLS && !c.NoTLS {
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			s.close()
			return nil, errors.New("the server does not offer STARTTLS (use smtps:// for implicit TLS)")
		}
		if err := cl.StartTLS(c.tlsConfig()); err != nil {
			s.close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if c.User != "" {
		// PlainAuth itself refuses to send the password without TLS.
		if err := cl.Auth(smtp.PlainAuth("", c.User, c.Password, c.Host)); err != nil {
			s.close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return s, nil
}

// send hands one message to the server: it is delivered once the server
// answered the DATA with 250.
func (s *session) send(from, to string, msg []byte, timeout time.Duration) error {
	_ = s.conn.SetDeadline(time.Now().Add(timeout))
	if err := s.client.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := s.client.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := s.client.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return nil
}

// reset readies a session kept from an earlier turn: RSET, which also
// shows whether the server still holds the connection.
func (s *session) reset(timeout time.Duration) error {
	_ = s.conn.SetDeadline(time.Now().Add(timeout))
	return s.client.Reset()
}

// sessions keeps SMTP connections open between turns: connecting costs a
// TCP handshake, the greeting, EHLO, usually a TLS handshake and AUTH,
// several round trips to a mail server that may be far away, where an
// email costs four. One server's turns share them (the SMTP server is
// the same for every organisation); a session idle for longer than
// sessionIdle, or that fails RSET (the server closed it), is replaced by
// a new connection, so a stale one is never taken for an outage.
type sessions struct {
	smtp    *SMTP
	timeout time.Duration
	max     int

	mu   sync.Mutex
	idle []idleSession
}

type idleSession struct {
	s     *session
	since time.Time
}

// sessionIdle is how long a session is kept unused: well under the five
// minutes RFC 5321 (4.5.3.2.7) lets a server wait for the next command.
const sessionIdle = 30 * time.Second

// get returns a kept session that still works, or a new one.
func (p *sessions) get(ctx context.Context) (*session, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return p.smtp.dial(ctx, p.timeout)
		}
		it := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(it.since) < sessionIdle && it.s.reset(min(p.timeout, 5*time.Second)) == nil {
			return it.s, nil
		}
		_ = it.s.client.Close()
	}
}

// put keeps s for a later turn (or ends it when enough are kept).
func (p *sessions) put(s *session) {
	p.mu.Lock()
	if len(p.idle) < p.max {
		p.idle = append(p.idle, idleSession{s, time.Now()})
		s = nil
	}
	p.mu.Unlock()
	if s != nil {
		s.close()
	}
}

// closeAll ends the kept sessions.
func (p *sessions) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, it := range idle {
		it.s.close()
	}
}

// close ends the session politely when it can.
func (s *session) close() {
	_ = s.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if err := s.client.Quit(); err != nil {
		_ = s.client.Close()
	}
}

// describe turns a sending error into the text shown to the organisation:
// the SMTP server's answer or what failed, never credentials.
func describe(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "the mail server did not answer in time"
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "\r", " ")
	msg = strings.ReplaceAll(msg, "\n", " ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200])
	}
	return msg
}
