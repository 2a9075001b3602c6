package network

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/window"
)

// Service answers GetReferralNetwork (and serves its exports, http.go).
// Who may call is the access policy's (admins and area analysts,
// internal/auth); what leaves is decided here: organisations that are not
// public as anonymous codes, every count released by the disclosure rule.
type Service struct {
	sparcv1.UnimplementedAnalyticsServiceServer
	store  *Store
	secret []byte
	now    func() time.Time
	// reads bounds the reads running at once in this process: a national
	// read holds three connections and up to 256 MB of the database's
	// memory for seconds, and more of them at once only make each slower
	// (and the database with them). A request waits its turn, within its
	// deadline.
	reads chan struct{}
	// codes memoises AnonymousCode (an HMAC per node and tie end).
	codes sync.Map
}

// NewService answers from store, naming organisations that are not
// public by AnonymousCode under secret (LoadSecret).
func NewService(store *Store, secret []byte) *Service {
	return &Service{store: store, secret: secret, now: time.Now, reads: make(chan struct{}, DefaultConcurrentReads)}
}

// DefaultConcurrentReads is how many network reads run at once: one per
// core of the two-core machine the figures in docs/benchmarks.md were
// measured on, each running its three statements in parallel.
const DefaultConcurrentReads = 2

// WithConcurrentReads bounds the reads running at once to n (at least 1).
func (s *Service) WithConcurrentReads(n int) *Service {
	s.reads = make(chan struct{}, max(n, 1))
	return s
}

// WithClock makes the service read the time from now (tests).
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// GetReferralNetwork answers the network of a window: its nodes, ties and
// measures, the ties changed since the window before, and, when a period
// is asked, the same for each month or quarter of the window.
func (s *Service) GetReferralNetwork(ctx context.Context, req *sparcv1.GetReferralNetworkRequest) (*sparcv1.ReferralNetwork, error) {
	q, err := parseRequest(req, s.now())
	if err != nil {
		return nil, err
	}
	if q.area != "" {
		ok, err := s.store.AreaExists(ctx, q.area)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("area %q: %w", q.area, apierr.ErrNotFound)
		}
	}
	prev := before(q.w)
	var parts []window.Window
	if q.period != 0 {
		parts = q.w.Split(q.period)
	}
	// One read covers every window needed: the one before, the window,
	// and the one before its first part.
	from := prev.Start
	if len(parts) > 0 {
		if b := before(parts[0]).Start; b.Before(from) {
			from = b
		}
	}
	h, err := s.load(ctx, q, from, q.w.End)
	if err != nil {
		return nil, err
	}
	now, then := h.graph(q.w.Start, q.w.End), h.graph(prev.Start, prev.End)
	m := Measure(now.g)
	out := &sparcv1.ReferralNetwork{Window: q.w.String(), StartTime: timestamppb.New(q.w.Start), EndTime: timestamppb.New(q.w.End),
		Area: q.area}
	var sup suppression
	out.Nodes, out.Edges = s.nodes(now, m, &sup), s.edges(now, &sup)
	out.Changes = s.changes(then, now, &sup)
	out.Measures = measures(now, m, out.Changes, &sup)
	earlier := h.graph(before(firstOr(parts, q.w)).Start, before(firstOr(parts, q.w)).End)
	for _, p := range parts {
		g := h.graph(p.Start, p.End)
		ch := s.changes(earlier, g, &sup)
		out.History = append(out.History, &sparcv1.NetworkWindow{Window: p.String(), StartTime: timestamppb.New(p.Start),
			EndTime: timestamppb.New(p.End), Measures: measures(g, Measure(g.g), ch, &sup), Changes: ch})
		earlier = g
	}
	out.Suppressed = bool(sup)
	return out, nil
}

func firstOr(ws []window.Window, w window.Window) window.Window {
	if len(ws) > 0 {
		return ws[0]
	}
	return w
}

// load reads the referrals made in [from, to) and what the network shows
// of their organisations and assets.
func (s *Service) load(ctx context.Context, q query, from, to time.Time) (*history, error) {
	select {
	case s.reads <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for other referral network reads: %w", ctx.Err())
	}
	rd, err := s.store.Read(ctx, q.area, from, to, q.byAsset)
	<-s.reads
	if err != nil {
		return nil, err
	}
	h := newHistory(rd, q.byAsset)
	var orgs, assets []string
	for k, key := range h.keys {
		if h.asset[k] {
			assets = append(assets, key)
		} else {
			orgs = append(orgs, key)
		}
	}
	if h.orgs, err = s.store.Organisations(ctx, orgs); err != nil {
		return nil, err
	}
	if h.assets, err = s.store.Assets(ctx, assets); err != nil {
		return nil, err
	}
	return h, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// suppression records whether any released figure was withheld.
type suppression bool

func (s *suppression) cell(c disclosure.Cell) *sparcv1.StatCount {
	if c.Withheld {
		*s = true
	}
	return c.StatCount()
}

// id is how node key appears: itself when public (an asset, a group with
// listings, an organisation that opted in), else its anonymous code.
func (s *Service) id(b *built, key string) string {
	if i, ok := b.index(key); ok && b.g.Nodes[i].Public {
		return key
	}
	if c, ok := s.codes.Load(key); ok {
		return c.(string)
	}
	c := AnonymousCode(s.secret, key)
	s.codes.Store(key, c)
	return c
}

var nodeKinds = map[NodeKind]sparcv1.NetworkNodeKind{
	Referrer: sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER,
	Group:    sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP,
	Asset:    sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET,
}

// nodes are b's nodes as they leave, in order of kind then id (ids, not
// keys: the order must not tell an anonymous code's id).
func (s *Service) nodes(b *built, m Measures, sup *suppression) []*sparcv1.NetworkNode {
	in, outs := make([][]disclosure.Cell, len(b.g.Nodes)), make([][]disclosure.Cell, len(b.g.Nodes))
	for i, t := range b.g.Ties {
		cells := b.released[i].cells
		outs[t.From] = append(outs[t.From], cells...)
		in[t.To] = append(in[t.To], cells...)
	}
	out := make([]*sparcv1.NetworkNode, len(b.g.Nodes))
	for i, n := range b.g.Nodes {
		nm := NodeMeasures{}
		if i < len(m.PerNode) {
			nm = m.PerNode[i]
		}
		node := &sparcv1.NetworkNode{Id: s.id(b, n.Key), Kind: nodeKinds[n.Kind], Anonymous: !n.Public,
			DeprivationQuintile: int32(n.Quintile), DegreeIn: int32(nm.DegreeIn), DegreeOut: int32(nm.DegreeOut),
			StrengthIn: sup.cell(disclosure.Sum(in[i]...)), StrengthOut: sup.cell(disclosure.Sum(outs[i]...)),
			Betweenness: nm.Betweenness}
		if n.Public {
			node.DisplayName = n.Name
		}
		if n.Org != "" {
			node.Organisation = s.orgID(b, n.Org)
		}
		out[i] = node
	}
	slices.SortFunc(out, func(x, y *sparcv1.NetworkNode) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Id, y.Id))
	})
	return out
}

// orgID is how an asset's organisation appears: by its id, as an
// organisation running a listed asset is public (Store.Organisations).
func (s *Service) orgID(b *built, org string) string {
	if b.has(org) {
		return s.id(b, org)
	}
	return org
}

// edges are b's ties as they leave, in order of (source, target) ids.
func (s *Service) edges(b *built, sup *suppression) []*sparcv1.NetworkEdge {
	out := make([]*sparcv1.NetworkEdge, len(b.g.Ties))
	for i, t := range b.g.Ties {
		r := b.released[i]
		e := &sparcv1.NetworkEdge{Source: s.id(b, b.g.Nodes[t.From].Key), Target: s.id(b, b.g.Nodes[t.To].Key),
			Referrals: sup.cell(r.referrals), Accepted: sup.cell(r.accepted), Declined: sup.cell(r.declined),
			Attended: sup.cell(r.attended), Completed: sup.cell(r.completed)}
		if len(r.reasons) > 0 {
			e.DeclinedReasons = make(map[string]*sparcv1.StatCount, len(r.reasons))
			for why, c := range r.reasons {
				e.DeclinedReasons[why] = sup.cell(c)
			}
		}
		out[i] = e
	}
	slices.SortFunc(out, func(x, y *sparcv1.NetworkEdge) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Target, y.Target))
	})
	return out
}

var changeKinds = map[ChangeKind]sparcv1.TieChangeKind{
	Formed:       sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED,
	Strengthened: sparcv1.TieChangeKind_TIE_CHANGE_KIND_STRENGTHENED,
	Weakened:     sparcv1.TieChangeKind_TIE_CHANGE_KIND_WEAKENED,
	Lost:         sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST,
}

// changes are the ties that changed from one window to the next
// (mergeTies, on raw counts), with their released figures before and after. A tie
// that strengthened or weakened by so little that its released figures
// are the same (both withheld, or the same multiple of 5) is left out: its
// direction would tell what the rounding hides.
func (s *Service) changes(then, now *built, sup *suppression) []*sparcv1.TieChange {
	// Both windows are cut from one history, so they number keys alike
	// and the ties are matched on those numbers, without a string.
	released := func(b *built, t *rankedTie) disclosure.Cell {
		if t == nil {
			return disclosure.Cell{}
		}
		return b.released[t.tie].referrals
	}
	var out []*sparcv1.TieChange
	mergeTies(then.keyed(), now.keyed(), func(k uint64, kind ChangeKind, before, after *rankedTie) {
		b, a := released(then, before), released(now, after)
		if (kind == Strengthened || kind == Weakened) && b == a {
			return
		}
		from, to := now.h.keys[k>>32], now.h.keys[uint32(k)]
		// Ids from the window that has the node (a lost tie's ends may
		// be gone now); publicity does not depend on the window.
		ids := now
		if !now.has(from) {
			ids = then
		}
		src := s.id(ids, from)
		ids = now
		if !now.has(to) {
			ids = then
		}
		out = append(out, &sparcv1.TieChange{Source: src, Target: s.id(ids, to), Kind: changeKinds[kind],
			Before: sup.cell(b), After: sup.cell(a)})
	})
	slices.SortFunc(out, func(x, y *sparcv1.TieChange) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Target, y.Target))
	})
	return out
}

// measures are a window's network measures as they leave: referrals as
// the Sum of every tie's released month cells.
func measures(b *built, m Measures, ch []*sparcv1.TieChange, sup *suppression) *sparcv1.NetworkMeasures {
	var cells []disclosure.Cell
	for i := range b.g.Ties {
		cells = append(cells, b.released[i].cells...)
	}
	out := &sparcv1.NetworkMeasures{Nodes: int32(m.Nodes), Edges: int32(m.Edges), Density: m.Density, Reciprocity: m.Reciprocity,
		TopDecileShare: m.TopDecileShare, CrossQuintileShare: m.CrossQuintileShare, Referrals: sup.cell(disclosure.Sum(cells...))}
	for _, c := range ch {
		switch c.Kind {
		case sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED:
			out.NewTies++
		case sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST:
			out.LostTies++
		}
	}
	return out
}
