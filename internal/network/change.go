package network

// mergeTies walks two windows' ties, sorted by key, together and reports
// each tie that changed from before (tb) to after (ta): Formed (absent
// before), Strengthened (more referrals), Weakened (fewer, but some) and
// Lost (absent after), in key order. Unchanged ties are left out: a
// meeting looks at what moved. The lists hold only ties with referrals,
// so a tie with none counts as absent, and a window with no referrals
// makes every tie of the other formed or lost.
//
// Nationally each window has hundreds of thousands of ties, so there are
// no maps of string pairs: both windows of a history number their node
// keys alike (history, built.keyed), each tie is one integer (number of
// From << 32 | number of To), and the merge yields the changes already in
// (From, To) order. A change gets the tie of each window that has it
// (nil for the window that has not).
func mergeTies(tb, ta []rankedTie, change func(k uint64, kind ChangeKind, before, after *rankedTie)) {
	i, j := 0, 0
	for i < len(tb) || j < len(ta) {
		switch {
		case j == len(ta) || (i < len(tb) && tb[i].key < ta[j].key):
			change(tb[i].key, Lost, &tb[i], nil)
			i++
		case i == len(tb) || ta[j].key < tb[i].key:
			change(ta[j].key, Formed, nil, &ta[j])
			j++
		default:
			if b, a := tb[i].referrals, ta[j].referrals; a > b {
				change(ta[j].key, Strengthened, &tb[i], &ta[j])
			} else if a < b {
				change(ta[j].key, Weakened, &tb[i], &ta[j])
			}
			i++
			j++
		}
	}
}

// rankedTie is a tie of one window by the key numbers of its ends.
type rankedTie struct {
	key       uint64 // rank of From << 32 | rank of To
	referrals int64
	tie       int32 // position in its graph's Ties
}
