package network

// Compare lists the ties that formed, strengthened, weakened or were lost
// from before to after (matched by node keys), ordered by (From, To).
// (Placeholder of the contract: the measures helper replaces this file.)
func Compare(before, after *Graph) []Change { return nil }
