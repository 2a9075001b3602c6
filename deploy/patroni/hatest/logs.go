package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// summariseLogs groups the WARN and ERROR lines of sparcd's JSON logs by
// replica, message and error, with their count and first and last time
// relative to the kill: what sparcd did through the failover.
func summariseLogs(files []string, killAt time.Time) []string {
	type group struct {
		n           int
		first, last time.Time
	}
	groups := map[string]*group{}
	for i, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Time                  time.Time
				Level, Msg, Err, Code string
				Method                string
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || (l.Level != "WARN" && l.Level != "ERROR") {
				continue
			}
			e := l.Err
			if len(e) > 110 {
				e = e[:110] + "…"
			}
			k := fmt.Sprintf("replica %d %s %q %s %s %s", i+1, l.Level, l.Msg, l.Method, l.Code, e)
			g := groups[k]
			if g == nil {
				g = &group{first: l.Time}
				groups[k] = g
			}
			g.n++
			g.last = l.Time
		}
		fh.Close()
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		out = append(out, fmt.Sprintf("%s ×%d (%+.1fs … %+.1fs)", k, g.n, g.first.Sub(killAt).Seconds(), g.last.Sub(killAt).Seconds()))
	}
	return out
}
