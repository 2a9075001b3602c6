package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"time"
)

// member is one node of GET /cluster on Patroni's REST API.
type member struct {
	Name  string `json:"name"`
	Role  string `json:"role"` // leader, sync_standby, replica
	State string `json:"state"`
	Lag   any    `json:"lag"`
}

// members asks each Patroni in turn (the one asked may be the killed node's).
func members(ctx context.Context, apis []string) ([]member, error) {
	var last error
	for _, api := range apis {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(cctx, http.MethodGet, api+"/cluster", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			last = err
			continue
		}
		var body struct{ Members []member }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		cancel()
		if err != nil {
			last = err
			continue
		}
		return body.Members, nil
	}
	return nil, fmt.Errorf("no Patroni answered: %w", last)
}

// leader returns the running leader's name, "" when there is none.
func leader(ms []member) string {
	for _, m := range ms {
		if m.Role == "leader" && m.State == "running" {
			return m.Name
		}
	}
	return ""
}

func describe(ms []member) string {
	s := ""
	for _, m := range ms {
		s += fmt.Sprintf(" %s=%s/%s", m.Name, m.Role, m.State)
	}
	return s
}

// killPostmaster sends SIGKILL to the postmaster of dataDir, as the
// postgres user (the data directory is readable by it only). With node,
// the node's Patroni (its pid in ../patroni.pid, ha-test.sh writes it) is
// killed first: the machine is lost, and the others wait for the leader
// key to expire (ttl) instead of being told.
func killPostmaster(ctx context.Context, asPostgres []string, dataDir string, node bool) error {
	script := `kill -9 "$(head -1 "$1/postmaster.pid")"`
	if node {
		script = `kill -9 "$(cat "$1/../patroni.pid")" && ` + script
	}
	args := append(append([]string{}, asPostgres...), "sh", "-c", script, "sh", dataDir)
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kill -9 of the postmaster in %s: %v: %s", dataDir, err, out)
	}
	return nil
}

// waitLeader polls until a running leader other than old is elected.
func waitLeader(ctx context.Context, apis []string, old string, bound time.Duration) (string, []member, error) {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		ms, err := members(ctx, apis)
		if err == nil {
			if l := leader(ms); l != "" && l != old {
				return l, ms, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", nil, fmt.Errorf("no new leader within %v", bound)
}

// waitHealed polls until every member runs again (the old primary back as
// a replica, rewound or re-cloned), bounded; it reports how long it took.
func waitHealed(ctx context.Context, apis []string, n int, bound time.Duration) (time.Duration, []member, bool) {
	start := time.Now()
	var ms []member
	for time.Since(start) < bound {
		var err error
		ms, err = members(ctx, apis)
		if err == nil && len(ms) == n {
			ok := leader(ms) != ""
			for _, m := range ms {
				if m.State != "running" && m.State != "streaming" {
					ok = false
				}
			}
			if ok {
				return time.Since(start), ms, true
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start), ms, false
}
