// Command hatest is the load driver and judge of `make ha-test`
// (deploy/patroni/ha-test.sh): against several sparcd replicas on a
// Patroni cluster it runs mixed load (CreateReferral with request ids,
// searches, a watch stream per replica, a webhook receiver), kills the
// primary's postmaster (kill -9), waits for Patroni to promote another
// node, keeps the load going, then reports what the failover cost and
// exits non-zero when a target is missed:
//
//   - seconds without a successful write: at most --max-write-gap (30 s);
//   - acknowledged referrals lost: 0 (every create that returned OK is in
//     the database afterwards, with the id it was acknowledged with);
//   - request ids duplicated or missing: 0 (each failed create is retried
//     with the same request id until it succeeds);
//   - watch streams: each resumes from its last cursor after an error and
//     receives every change of the outbox once, in order;
//   - webhook deliveries: none lost, none repeated beyond the documented
//     at-least-once repeat of the change acknowledged just before.
//
// It reads the database as its superuser (--db) only to check: every
// write goes through sparcd's API with the demo link worker's key.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type config struct {
	grpcAddrs, httpAddrs []string
	key, dbURL           string
	patroni              []string
	nodes                map[string]string // Patroni member name to data directory
	asPostgres           []string
	logs                 []string
	before, after        time.Duration
	maxWriteGap          time.Duration
	writers, searchers   int
	killNode             bool // Patroni too, not only the postmaster
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hatest:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.before+cfg.after+10*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hatest:", err)
		os.Exit(1)
	}
	if missed := rep.print(os.Stdout, cfg); missed > 0 {
		fmt.Printf("\nFAIL: %d target(s) missed\n", missed)
		os.Exit(1)
	}
	fmt.Println("\nPASS: every target met")
}

func parseFlags(args []string) (config, error) {
	var c config
	var grpcs, https, patroni, nodes, asPG, logs string
	fs := flag.NewFlagSet("hatest", flag.ContinueOnError)
	fs.StringVar(&grpcs, "grpc", "", "sparcd gRPC addresses, comma-separated")
	fs.StringVar(&https, "http", "", "sparcd HTTP addresses, same order")
	fs.StringVar(&c.key, "key", os.Getenv("HATEST_KEY"), "a link worker's API key; default $HATEST_KEY")
	fs.StringVar(&c.dbURL, "db", os.Getenv("HATEST_DB"), "the database as its superuser, through the read-write port (checks only); default $HATEST_DB, which keeps the password out of the process list")
	fs.StringVar(&patroni, "patroni", "", "Patroni REST API URLs, comma-separated")
	fs.StringVar(&nodes, "nodes", "", "member=data-dir pairs, comma-separated (where the postmaster.pid to kill is)")
	fs.StringVar(&asPG, "as-postgres", "runuser -u postgres --", "command prefix to act as the postgres user")
	fs.StringVar(&logs, "logs", "", "sparcd log files (JSON), comma-separated, summarised in the report")
	fs.DurationVar(&c.before, "before", 20*time.Second, "load before the kill")
	fs.DurationVar(&c.after, "after", 30*time.Second, "load after the new primary is elected")
	fs.DurationVar(&c.maxWriteGap, "max-write-gap", 30*time.Second, "target: longest time without a successful write")
	fs.BoolVar(&c.killNode, "kill-node", false, "kill the primary's Patroni as well as its postmaster (a lost machine: failover waits for the leader key's ttl)")
	fs.IntVar(&c.writers, "writers", 4, "concurrent CreateReferral loops")
	fs.IntVar(&c.searchers, "searchers", 2, "concurrent SearchAssets loops")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	c.grpcAddrs, c.httpAddrs, c.patroni, c.logs = split(grpcs), split(https), split(patroni), split(logs)
	c.asPostgres = strings.Fields(asPG)
	c.nodes = map[string]string{}
	for _, kv := range split(nodes) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("--nodes: %q is not member=dir", kv)
		}
		c.nodes[k] = v
	}
	switch {
	case len(c.grpcAddrs) == 0 || len(c.grpcAddrs) != len(c.httpAddrs):
		return c, fmt.Errorf("--grpc and --http must list the same replicas")
	case c.key == "" || c.dbURL == "" || len(c.patroni) == 0 || len(c.nodes) == 0:
		return c, fmt.Errorf("--key (or HATEST_KEY), --db (or HATEST_DB), --patroni and --nodes are required")
	}
	return c, nil
}

type bearer string

func (k bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// dial opens one client connection per sparcd replica. No retry policy:
// the load loops retry themselves, so that every failure is counted.
func dial(cfg config) ([]*grpc.ClientConn, error) {
	out := make([]*grpc.ClientConn, len(cfg.grpcAddrs))
	for i, a := range cfg.grpcAddrs {
		c, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer(cfg.key)))
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}
