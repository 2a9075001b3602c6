// Package network is SPARC's relational analytics: the referral network
// between the organisations that refer (link-worker services, GP
// practices) and the groups and assets they refer to, its measures, how
// it changes from one window to the next, and its exports (GraphML, CSV).
//
// The store (store.go) reads referrals as counts by tie and month; the
// builder (build.go) cuts each window's Graph from them with raw counts;
// the measures (measures.go) are computed exactly on that Graph (checked
// against gonum in the tests); the service (service.go) applies the
// access rule, anonymises organisations
// that are not public and releases every count under the disclosure rule
// (package disclosure) only at the end, so measures are never computed
// from rounded figures and rounded figures never leak a raw one.
package network

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// NodeKind is what a node stands for.
type NodeKind int

const (
	Referrer NodeKind = iota + 1 // an organisation that refers
	Group                        // an organisation running assets referred to
	Asset                        // an asset (granularity ASSETS)
)

// Node is one organisation or asset.
type Node struct {
	// Key is the organisation's or asset's id (uuid text).
	Key  string
	Kind NodeKind
	// Org is an asset's organisation id (empty for organisations).
	Org string
	// Name is the organisation's or asset's display name.
	Name string
	// Public: the node may be named to callers outside its organisation
	// (a group with public listings, an asset, or an organisation that
	// opted in); the service anonymises the rest.
	Public bool
	// Quintile is the deprivation quintile, 1 most deprived to 5; 0
	// unknown.
	Quintile int
}

// Tie is the referrals from Nodes[From] to Nodes[To] in a window, with raw
// (unreleased) counts.
type Tie struct {
	From, To                                           int
	Referrals, Accepted, Declined, Attended, Completed int64
}

// Graph is a window's referral network with raw counts. Nodes are unique
// by Key; Ties are unique by (From, To) and never loops.
type Graph struct {
	Nodes []Node
	Ties  []Tie
}

// NodeMeasures are one node's measures in a window (raw counts).
type NodeMeasures struct {
	DegreeIn, DegreeOut     int
	StrengthIn, StrengthOut int64
	// Betweenness on the directed, unweighted graph, normalised by
	// (n-1)(n-2) (0 when n < 3).
	Betweenness float64
}

// Measures are a Graph's measures (Measure, in measures.go).
type Measures struct {
	Nodes, Edges int
	// Density is Edges / n(n-1).
	Density float64
	// Reciprocity is the share of ties whose reverse tie exists.
	Reciprocity float64
	// TopDecileShare is the share of referrals received by the top 10%
	// of Group (or, at asset granularity, Asset) nodes by referrals
	// received: ceil(10% of them), at least one.
	TopDecileShare float64
	// CrossQuintileShare is the share of ties, among those whose both
	// ends have a quintile, whose ends' quintiles differ.
	CrossQuintileShare float64
	Referrals          int64
	// PerNode is indexed like Graph.Nodes.
	PerNode []NodeMeasures
}

// ChangeKind is how a tie changed between two windows.
type ChangeKind int

const (
	Formed ChangeKind = iota + 1
	Strengthened
	Weakened
	Lost
)

// Change is one tie that changed between two windows, by node keys.
type Change struct {
	From, To      string
	Kind          ChangeKind
	Before, After int64
}

// AnonymousCode is the code an organisation that is not public appears
// as in every analytics output (network nodes, outcome providers,
// reports): "anon-" and 8 hex characters of an HMAC-SHA256 of its id
// under the server's secret, so it is stable across windows and requests
// (a meeting can follow "anon-3f9a0c12" from one quarter to the next)
// but cannot be turned back into the id without the secret.
func AnonymousCode(secret []byte, orgID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(orgID))
	return "anon-" + hex.EncodeToString(m.Sum(nil))[:8]
}
