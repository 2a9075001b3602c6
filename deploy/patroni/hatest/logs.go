package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// logGroup is the lines of one replica with one level, message and error.
type logGroup struct {
	n           int
	first, last time.Time
}

// summariseLogs groups the WARN and ERROR lines of sparcd's JSON logs by
// replica, message and error, with their count and first and last time
// relative to the kill: what sparcd did through the failover.
func summariseLogs(files []string, killAt time.Time) []string {
	groups := map[string]*logGroup{}
	for i, f := range files {
		groupLog(f, i+1, groups)
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

// groupLog adds the warnings and errors of one replica's log to groups.
func groupLog(file string, replica int, groups map[string]*logGroup) {
	fh, err := os.Open(file)
	if err != nil {
		return
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time                          time.Time
			Level, Msg, Err, Code, Method string
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || (l.Level != "WARN" && l.Level != "ERROR") {
			continue
		}
		e := l.Err
		if len(e) > 110 {
			e = e[:110] + "…"
		}
		k := fmt.Sprintf("replica %d %s %q %s %s %s", replica, l.Level, l.Msg, l.Method, l.Code, e)
		g := groups[k]
		if g == nil {
			g = &logGroup{first: l.Time}
			groups[k] = g
		}
		g.n++
		g.last = l.Time
	}
}
