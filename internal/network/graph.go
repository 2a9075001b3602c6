// Package network is SPARC's relational analytics: the referral network
// between the organisations that refer (link-worker services, GP
// practices) and the groups and assets they refer to, its measures, how
// it changes from one window to the next, and its exports (GraphML, CSV).
//
// The store (store.go) aggregates referrals into a Graph with raw counts;
// the measures (measures.go) are computed on that Graph with gonum; the
// service (service.go) applies the access rule, anonymises organisations
// that are not public and releases every count under the disclosure rule
// (package disclosure) only at the end, so measures are never computed
// from rounded figures and rounded figures never leak a raw one.
package network

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
	// DeclinedReasons counts declined referrals by status reason.
	DeclinedReasons map[string]int64
}

// Graph is a window's referral network with raw counts. Nodes are unique
// by Key; Ties are unique by (From, To) and never loops.
type Graph struct {
	Nodes []Node
	Ties  []Tie
}
