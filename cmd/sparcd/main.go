// Command sparcd is the SPARC server: gRPC and HTTP/JSON APIs over
// PostgreSQL + PostGIS. Without DATABASE_URL it runs its own embedded
// PostgreSQL cluster in SPARC_DATA_DIR.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // session time zones must resolve even without system tzdata

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/caller"
	"github.com/sparc-network/sparc/internal/console"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/telemetry"
	"github.com/sparc-network/sparc/internal/webhooks"
)

type config struct {
	grpcAddr, httpAddr string
	databaseURL        string
	databaseReadURL    string
	dataDir            string
	pgBin              string
	dbDownLimit        time.Duration
	logLevel           string
	logFormat          string
	demo               bool
	shutdownTimeout    time.Duration
	maxConns           int
	rate               float64
	burst              int
	bootstrapAdmin     string
	oidc               auth.OIDCConfig
	consoleScopes      string
	trustedProxies     string
	dataKey            string
	retention          time.Duration
	webhooks           webhooks.Config
	coverage           coverage.Config
	searchIndex        bool
	mail               mailFlags
	tls                server.TLSFiles
	anonymous, badAuth auth.Limit
	maxStreams         int
	edge               server.Edge
	metricsAddr        string
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if v, ok := os.LookupEnv(key); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func envInt(key string, def int) int {
	if v, ok := os.LookupEnv(key); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(key); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// dataKey returns the key that seals personal details. The embedded
// database keeps a generated key beside it (mode 0600); an external
// database needs one from the environment, never stored with the data.
func dataKey(c config) ([]byte, error) {
	if c.dataKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.dataKey)
		if err != nil || len(k) != 32 {
			return nil, errors.New("SPARC_DATA_KEY must be 32 bytes, base64-encoded (e.g. openssl rand -base64 32)")
		}
		return k, nil
	}
	if c.databaseURL != "" {
		return nil, errors.New("SPARC_DATA_KEY is required with DATABASE_URL: 32 random bytes, base64 (openssl rand -base64 32)")
	}
	path := filepath.Join(c.dataDir, "data-key")
	if b, err := os.ReadFile(path); err == nil {
		return dataKey(config{dataKey: strings.TrimSpace(string(b))})
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("saving data key: %w", err)
	}
	return k, nil
}

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("sparcd", flag.ContinueOnError)
	fs.StringVar(&c.grpcAddr, "grpc-addr", env("SPARC_GRPC_ADDR", "127.0.0.1:9090"), "gRPC listen address (env SPARC_GRPC_ADDR)")
	fs.StringVar(&c.httpAddr, "http-addr", env("SPARC_HTTP_ADDR", "127.0.0.1:8080"), "HTTP/JSON listen address (env SPARC_HTTP_ADDR)")
	fs.StringVar(&c.databaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL URL; empty runs the embedded database (env DATABASE_URL)")
	fs.StringVar(&c.databaseReadURL, "database-read-url", env("SPARC_DATABASE_READ_URL", ""), "a streaming replica of the database for search, listings, Open Referral, coverage and tiles; empty: the primary serves them (env SPARC_DATABASE_READ_URL)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("SPARC_METRICS_ADDR", ""), "Prometheus /metrics listen address, apart from the API ports; empty: off (env SPARC_METRICS_ADDR). Traces: the OTEL_EXPORTER_OTLP_* variables")
	fs.StringVar(&c.dataDir, "data-dir", env("SPARC_DATA_DIR", ".sparc"), "embedded database directory (env SPARC_DATA_DIR)")
	fs.StringVar(&c.pgBin, "pg-bin", env("SPARC_PG_BIN", pgcluster.DefaultBinDir), "PostgreSQL server binaries for the embedded database (env SPARC_PG_BIN)")
	fs.DurationVar(&c.dbDownLimit, "db-down-limit", envDuration("SPARC_DB_DOWN_LIMIT", 30*time.Second), "how long the embedded database may stay down, restarts failing, before /healthz fails (env SPARC_DB_DOWN_LIMIT)")
	fs.StringVar(&c.logLevel, "log-level", env("SPARC_LOG_LEVEL", "info"), "debug, info, warn or error (env SPARC_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", env("SPARC_LOG_FORMAT", "text"), "text or json (env SPARC_LOG_FORMAT)")
	fs.BoolVar(&c.demo, "demo", false, "load the demo directory when it is not loaded yet")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 20*time.Second, "time allowed for in-flight requests at shutdown")
	fs.IntVar(&c.maxConns, "max-db-conns", 32, "database pool size")
	fs.Float64Var(&c.rate, "rate-limit", envFloat("SPARC_RATE_LIMIT", 20), "requests per second per API key (env SPARC_RATE_LIMIT)")
	fs.IntVar(&c.burst, "rate-burst", int(envFloat("SPARC_RATE_BURST", 40)), "burst size per API key (env SPARC_RATE_BURST)")
	fs.StringVar(&c.oidc.Issuer, "oidc-issuer", env("SPARC_OIDC_ISSUER", ""), "accept bearer tokens from this OpenID Connect issuer (env SPARC_OIDC_ISSUER)")
	fs.StringVar(&c.oidc.Audience, "oidc-audience", env("SPARC_OIDC_AUDIENCE", ""), "required token audience (env SPARC_OIDC_AUDIENCE)")
	fs.StringVar(&c.oidc.JWKSURL, "oidc-jwks-url", env("SPARC_OIDC_JWKS_URL", ""), "issuer's signing keys URL (env SPARC_OIDC_JWKS_URL)")
	fs.StringVar(&c.oidc.JWKSFile, "oidc-jwks-file", env("SPARC_OIDC_JWKS_FILE", ""), "issuer's signing keys as a JWKS file (env SPARC_OIDC_JWKS_FILE)")
	fs.StringVar(&c.oidc.OrgClaim, "oidc-org-claim", env("SPARC_OIDC_ORG_CLAIM", "sparc_org"), "token claim with the SPARC organisation id (env SPARC_OIDC_ORG_CLAIM)")
	fs.StringVar(&c.consoleScopes, "console-oidc-scopes", env("SPARC_CONSOLE_OIDC_SCOPES", "openid profile"), "scopes the web console asks the OIDC issuer for; its client id is --oidc-audience (env SPARC_CONSOLE_OIDC_SCOPES)")
	fs.StringVar(&c.oidc.RoleClaim, "oidc-role-claim", env("SPARC_OIDC_ROLE_CLAIM", "sparc_role"), "token claim with the SPARC role (env SPARC_OIDC_ROLE_CLAIM)")
	fs.StringVar(&c.dataKey, "data-key", env("SPARC_DATA_KEY", ""), "base64 32-byte key sealing personal details at rest (env SPARC_DATA_KEY); required with DATABASE_URL, kept in the data dir otherwise")
	fs.DurationVar(&c.retention, "retention", envDuration("SPARC_RETENTION", 365*24*time.Hour), "purge person details and free text of referrals closed longer ago (env SPARC_RETENTION; 0 keeps them)")
	fs.Float64Var(&c.coverage.WalkMeters, "coverage-walk-meters", envFloat("SPARC_COVERAGE_WALK_METERS", coverage.DefaultWalkMeters), "walking distance of the stored coverage results while none is set through the API (UpdateCoverageSettings, which every server follows without a restart); changing either rebuilds them in the background (env SPARC_COVERAGE_WALK_METERS)")
	fs.BoolVar(&c.searchIndex, "search-index", env("SPARC_SEARCH_INDEX", "on") != "off", "answer point searches from an in-memory index kept current from the database (docs/architecture.md); --search-index=false sends every search to PostGIS (env SPARC_SEARCH_INDEX=off)")
	fs.BoolVar(&c.webhooks.Disabled, "no-webhook-delivery", env("SPARC_WEBHOOK_DELIVERY", "on") == "off", "do not deliver webhooks from this server (other replicas do; env SPARC_WEBHOOK_DELIVERY=off)")
	fs.DurationVar(&c.webhooks.Timeout, "webhook-timeout", envDuration("SPARC_WEBHOOK_TIMEOUT", 10*time.Second), "bound on one webhook delivery (env SPARC_WEBHOOK_TIMEOUT)")
	fs.DurationVar(&c.webhooks.BackoffCap, "webhook-max-backoff", envDuration("SPARC_WEBHOOK_MAX_BACKOFF", 10*time.Minute), "longest wait between retries to a failing webhook (env SPARC_WEBHOOK_MAX_BACKOFF)")
	fs.StringVar(&c.tls.CertFile, "tls-cert", env("SPARC_TLS_CERT", ""), "PEM certificate chain: serve TLS on both ports; re-read when the file changes (env SPARC_TLS_CERT)")
	fs.StringVar(&c.tls.KeyFile, "tls-key", env("SPARC_TLS_KEY", ""), "PEM private key of --tls-cert (env SPARC_TLS_KEY)")
	fs.StringVar(&c.tls.ClientCAFile, "tls-client-ca", env("SPARC_TLS_CLIENT_CA", ""), "PEM CA certificates: require a client certificate they issued on both ports, mTLS (env SPARC_TLS_CLIENT_CA)")
	fs.BoolVar(&c.webhooks.AllowPrivate, "webhook-allow-private", env("SPARC_WEBHOOK_ALLOW_PRIVATE", "false") == "true", "let webhooks reach loopback, private and link-local addresses, for development only (env SPARC_WEBHOOK_ALLOW_PRIVATE=true)")
	fs.StringVar(&c.mail.smtpURL, "smtp-url", env("SPARC_SMTP_URL", ""), "email notifications through this SMTP server: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (implicit TLS); empty: no emails (env SPARC_SMTP_URL)")
	fs.StringVar(&c.mail.from, "mail-from", env("SPARC_MAIL_FROM", ""), "sender address of email notifications, e.g. \"SPARC <sparc@example.org>\" (env SPARC_MAIL_FROM)")
	fs.StringVar(&c.mail.publicURL, "public-url", env("SPARC_PUBLIC_URL", ""), "base URL of this service in links sent by email, e.g. https://sparc.example.org (env SPARC_PUBLIC_URL)")
	fs.StringVar(&c.bootstrapAdmin, "bootstrap-admin", "", "issue a network admin API key (creates and suspends organisations, issues their keys) for the organisation with this name (created if missing) and print it")
	edgeFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	proxies, err := caller.ParseProxies(c.trustedProxies)
	if err != nil {
		fmt.Fprintln(fs.Output(), "sparcd: --trusted-proxies:", err)
		return c, err
	}
	c.edge.TrustedProxies = proxies
	return c, nil
}

// edgeFlags: limits on what one client can hold, and whom to believe about
// who the client is (see docs/security.md, "Edge limits and proxies").
func edgeFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.trustedProxies, "trusted-proxies", env("SPARC_TRUSTED_PROXIES", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For and X-Request-Id are believed; empty: none (env SPARC_TRUSTED_PROXIES)")
	fs.Float64Var(&c.anonymous.Rate, "anonymous-rate-limit", envFloat("SPARC_ANONYMOUS_RATE_LIMIT", 20), "calls per second without an API key, per client address (env SPARC_ANONYMOUS_RATE_LIMIT)")
	fs.IntVar(&c.anonymous.Burst, "anonymous-rate-burst", envInt("SPARC_ANONYMOUS_RATE_BURST", 100), "burst of calls without an API key, per client address (env SPARC_ANONYMOUS_RATE_BURST)")
	fs.Float64Var(&c.badAuth.Rate, "failed-auth-rate-limit", envFloat("SPARC_FAILED_AUTH_RATE_LIMIT", 0.2), "calls per second with a bad API key or token, per client address (env SPARC_FAILED_AUTH_RATE_LIMIT)")
	fs.IntVar(&c.badAuth.Burst, "failed-auth-rate-burst", envInt("SPARC_FAILED_AUTH_RATE_BURST", 10), "burst of calls with a bad API key or token, per client address (env SPARC_FAILED_AUTH_RATE_BURST)")
	fs.IntVar(&c.maxStreams, "max-watch-streams", envInt("SPARC_MAX_WATCH_STREAMS", auth.DefaultMaxStreams), "open watch streams per API key (env SPARC_MAX_WATCH_STREAMS)")
	fs.DurationVar(&c.edge.BodyTimeout, "http-body-timeout", envDuration("SPARC_HTTP_BODY_TIMEOUT", 30*time.Second), "time allowed to send a whole request body (env SPARC_HTTP_BODY_TIMEOUT)")
	fs.DurationVar(&c.edge.WriteTimeout, "http-write-timeout", envDuration("SPARC_HTTP_WRITE_TIMEOUT", 2*time.Minute), "time allowed to write a response, or one message of a stream (env SPARC_HTTP_WRITE_TIMEOUT)")
	fs.DurationVar(&c.edge.IdleTimeout, "idle-timeout", envDuration("SPARC_IDLE_TIMEOUT", 2*time.Minute), "close keep-alive connections idle this long (env SPARC_IDLE_TIMEOUT)")
	fs.IntVar(&c.edge.MaxConns, "max-connections", envInt("SPARC_MAX_CONNECTIONS", 10_000), "open connections per port; beyond, new ones are closed (env SPARC_MAX_CONNECTIONS)")
	fs.IntVar(&c.edge.MaxConnsPerAddr, "max-connections-per-address", envInt("SPARC_MAX_CONNECTIONS_PER_ADDRESS", 2_000), "open connections per port from one client address, trusted proxies exempt (env SPARC_MAX_CONNECTIONS_PER_ADDRESS)")
}

func newLogger(c config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.logLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.logFormat)
}

func main() {
	if code, ok := subcommand(os.Args[1:]); ok { // backup, restore, --version
		os.Exit(code)
	}
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	log, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sparcd:", err)
		os.Exit(2)
	}
	server.UseLoggerForGRPC(log)
	if err := run(cfg, log); err != nil {
		log.Error("sparcd stopped", "err", err)
		fmt.Fprintln(os.Stderr, "sparcd:", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	server.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	url, cluster, err := startDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Error("stopping embedded database", "err", err)
			} else {
				log.Info("embedded database stopped")
			}
		}()
	}
	// Traces only when OTEL_EXPORTER_OTLP_ENDPOINT asks: otherwise nothing
	// is installed. Flushed after the pool closes (deferred first).
	tracing, err := telemetry.TracingFromEnv(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tracing.Shutdown(context.Background()) }()
	pool, err := openPool(ctx, url, cfg.maxConns, tracing)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The embedded database is ours to keep running: a crashed server is
	// started again, the pool's connections to it dropped, and /healthz
	// fails only when it cannot be brought back. Supervision ends before
	// the pool closes.
	var health func(context.Context) error
	var supervised []telemetry.Collector
	if cluster != nil {
		sup := cluster.Supervise(pgcluster.SuperviseOptions{DownLimit: cfg.dbDownLimit, Restarted: pool.Reset})
		defer sup.Stop()
		health = func(context.Context) error { return sup.Healthy() }
		supervised = append(supervised, telemetry.EmbeddedDatabase(sup.Restarts, sup.Healthy))
	}
	appCfg, err := appConfig(ctx, cfg, log, health)
	if err != nil {
		return err
	}
	appCfg.MetricsAddr, appCfg.Metrics, appCfg.Tracing = cfg.metricsAddr, supervised, tracing
	if cfg.databaseReadURL != "" {
		if appCfg.ReadPool, err = db.OpenRead(ctx, cfg.databaseReadURL, int32(cfg.maxConns), tracing.QueryTracer()); err != nil {
			return fmt.Errorf("read replica: %w", err)
		}
		defer appCfg.ReadPool.Close()
	}
	a, err := app.New(ctx, pool, appCfg)
	if err != nil {
		return err
	}
	demoKeys, err := prepare(ctx, cfg, a, log)
	if err != nil {
		return err
	}
	announce(cfg, a.Server(), demoKeys, log)
	if addr := a.MetricsAddr(); addr != "" {
		log.Info("metrics serving", "addr", "http://"+addr+"/metrics")
	}
	if tracing != nil {
		log.Info("exporting traces over OTLP")
	}
	return a.Serve(ctx)
}

// startDatabase returns the database URL: DATABASE_URL, or the embedded
// cluster's, started here (the caller stops it).
func startDatabase(ctx context.Context, cfg config, log *slog.Logger) (string, *pgcluster.Cluster, error) {
	if cfg.databaseURL != "" {
		return cfg.databaseURL, nil, nil
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir: cfg.dataDir, BinDir: cfg.pgBin, Database: "sparc", Logger: log,
	})
	if err != nil {
		if errors.Is(err, pgcluster.ErrInUse) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("starting embedded database: %w", err)
	}
	return cluster.URL("sparc"), cluster, nil
}

// openPool migrates the database and opens the pool requests are served
// on. Migrations run as the login of url (the schema owner); requests are
// served as the unprivileged application role, bound by row-level security.
func openPool(ctx context.Context, url string, maxConns int, tracing *telemetry.Tracing) (*pgxpool.Pool, error) {
	owner, err := db.Open(ctx, url, 2)
	if err != nil {
		return nil, err
	}
	err = db.Migrate(ctx, owner)
	owner.Close()
	if err != nil {
		return nil, err
	}
	return db.OpenAppTraced(ctx, url, int32(maxConns), tracing.QueryTracer())
}

// appConfig turns the flags into the composition root's configuration.
func appConfig(ctx context.Context, cfg config, log *slog.Logger, health func(context.Context) error) (app.Config, error) {
	authCfg := auth.Config{RatePerSecond: cfg.rate, Burst: cfg.burst, Logger: log,
		Anonymous: cfg.anonymous, FailedAuth: cfg.badAuth, MaxStreams: cfg.maxStreams}
	if cfg.oidc.Enabled() {
		var err error
		if authCfg.OIDC, err = auth.NewOIDC(ctx, cfg.oidc); err != nil {
			return app.Config{}, err
		}
	}
	key, err := dataKey(cfg)
	if err != nil {
		return app.Config{}, err
	}
	mail, err := cfg.mail.config()
	if err != nil {
		return app.Config{}, err
	}
	// The console signs people in with the issuer (code + PKCE) and sends
	// the ID token, whose audience is its client id: --oidc-audience.
	web := app.ConsoleConfig{OIDC: console.OIDC{Issuer: cfg.oidc.Issuer, ClientID: cfg.oidc.Audience, Scopes: strings.Fields(cfg.consoleScopes)}}
	return app.Config{Auth: authCfg, DataKey: key, Retention: cfg.retention, Webhooks: cfg.webhooks, Notify: mail,
		Coverage: coverage.Config{Maintain: true, WalkMeters: cfg.coverage.WalkMeters}, Logger: log, Console: web,
		SearchIndex: assets.IndexConfig{Enabled: cfg.searchIndex},
		Server: server.Config{GRPCAddr: cfg.grpcAddr, HTTPAddr: cfg.httpAddr, ShutdownTimeout: cfg.shutdownTimeout,
			TLS: cfg.tls, Edge: cfg.edge, Health: health}}, nil
}

// mailFlags are the email notification flags (internal/notify).
type mailFlags struct{ smtpURL, from, publicURL string }

// config reads the email flags: off without --smtp-url; with it,
// --mail-from is required.
func (f mailFlags) config() (notify.Config, error) {
	if f.smtpURL == "" {
		return notify.Config{}, nil
	}
	smtp, err := notify.ParseSMTPURL(f.smtpURL)
	if err != nil {
		return notify.Config{}, fmt.Errorf("--smtp-url: %w", err)
	}
	if f.from == "" {
		return notify.Config{}, errors.New("--smtp-url needs --mail-from (SPARC_MAIL_FROM), the sender address")
	}
	if _, err := mail.ParseAddress(f.from); err != nil {
		return notify.Config{}, fmt.Errorf("--mail-from %q: %w", f.from, err)
	}
	if f.publicURL != "" {
		if u, err := url.Parse(f.publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return notify.Config{}, fmt.Errorf("--public-url %q: want an http(s) URL", f.publicURL)
		}
	}
	return notify.Config{SMTP: smtp, From: f.from, PublicURL: f.publicURL}, nil
}

// prepare does the one-off tasks asked for before serving: the bootstrap
// admin key and the demo data, whose keys it returns.
func prepare(ctx context.Context, cfg config, a *app.App, log *slog.Logger) ([][2]string, error) {
	if cfg.bootstrapAdmin != "" {
		key, org, err := orgs.Bootstrap(ctx, a.Pool, cfg.bootstrapAdmin)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "\nNetwork admin API key for organisation %s (%s), shown once:\n  %s\n\n", cfg.bootstrapAdmin, org, key)
	}
	if !cfg.demo {
		return nil, nil
	}
	n, err := demo.Load(ctx, a.Pool, a.Assets)
	if err != nil {
		return nil, fmt.Errorf("loading demo data: %w", err)
	}
	if n > 0 {
		log.Info("demo directory loaded", "assets", n)
	}
	na, err := demo.ImportAreasLogged(demo.AdminContext(ctx), areas.NewService(a.Areas, a.Tokens), log)
	if err != nil {
		return nil, fmt.Errorf("loading demo areas: %w", err)
	}
	if na > 0 {
		log.Info("demo areas loaded (LSOA, MSOA and council boundaries, deprivation; Rotterdam buurten)", "areas", na)
	}
	np, err := demo.LoadPostcodes(ctx, a.Pool)
	if err != nil {
		return nil, fmt.Errorf("loading demo postcodes: %w", err)
	}
	if np > 0 {
		log.Info("demo postcodes loaded (GB demo areas, NL PC4)", "postcodes", np)
	}
	// A year of referral history, so that the network, outcome evidence
	// and neighbourhood report have something to show.
	nh, err := demo.LoadHistory(ctx, a.Pool, a.Assets, time.Now())
	if err != nil {
		return nil, fmt.Errorf("loading the demo referral history: %w", err)
	}
	if nh > 0 {
		log.Info("demo referral history loaded (a year, ending now)", "referrals", nh)
	}
	keyFile := ""
	if cfg.databaseURL == "" {
		keyFile = filepath.Join(cfg.dataDir, "demo-keys.txt")
	}
	keys, err := demo.Keys(ctx, a.Pool, keyFile)
	if err != nil {
		return nil, fmt.Errorf("issuing demo keys: %w", err)
	}
	return keys, nil
}

// announce says where SPARC serves, and the demo keys.
func announce(cfg config, srv *server.Server, demoKeys [][2]string, log *slog.Logger) {
	scheme := tlsNote(cfg, srv, log)
	log.Info("sparcd serving", "http", scheme+"://"+srv.HTTPAddr(), "grpc", srv.GRPCAddr(), "trusted_proxies", cfg.edge.TrustedProxies.String())
	if len(demoKeys) > 0 {
		fmt.Fprintln(os.Stderr, "\nDemo API keys (demo data only; one per role):")
		for _, k := range demoKeys {
			fmt.Fprintf(os.Stderr, "  %-13s %s\n", k[0], k[1])
		}
	}
	fmt.Fprintf(os.Stderr, "\nSPARC is ready.\n  Console:   %[1]s://%[2]s/app/  (sign in with an API key)\n  HTTP/JSON: %[1]s://%[2]s  (OpenAPI: %[1]s://%[2]s/openapi.json)\n  gRPC:      %[3]s\n  try: curl '%[1]s://%[2]s/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=3000'\n\n",
		scheme, srv.HTTPAddr(), srv.GRPCAddr())
}

// tlsNote returns the HTTP scheme served and warns when a port reachable
// from other hosts serves plaintext: API keys and personal data would
// cross the network readable.
func tlsNote(cfg config, srv *server.Server, log *slog.Logger) string {
	if cfg.tls.Enabled() {
		return "https"
	}
	for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				log.Warn("serving plaintext on a non-loopback address; use --tls-cert/--tls-key or a TLS proxy on this host", "addr", addr)
			}
		}
	}
	return "http"
}
