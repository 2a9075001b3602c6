package evidence

import "testing"

func cases(n int64) sums {
	// n cases of both measures, changes of 1 and 3 alternating (variance > 0).
	s := sums{N: n, SwemN: n, Ons4N: n}
	for i := range n {
		x := float64(1 + 2*(i%2))
		s.SwemSum += x
		s.SwemSq += x * x
		for k := range 4 {
			s.Ons4Sum[k] += x
			s.Ons4SumSq[k] += x * x
		}
	}
	return s
}

// Providers 10, 12 and 3 of 25: the 3 are suppressed, and the overall
// mean minus the two released providers' would give their mean, so the
// smallest released provider (10) is suppressed as well.
func TestReleaseSuppressesTheComplementOfAPartition(t *testing.T) {
	out := release([]groupRow{
		{Dim: "all", Key: "all", sums: cases(25)},
		{Dim: "provider", Key: "a", Public: true, Label: "A", sums: cases(10)},
		{Dim: "provider", Key: "b", Public: true, Label: "B", sums: cases(12)},
		{Dim: "provider", Key: "c", Public: true, Label: "C", sums: cases(3)},
	}, []byte("s"))
	got := map[string]bool{}
	for _, g := range out.GetByProvider() {
		got[g.GetKey()] = g.GetSwemwbsChange().GetSuppressed()
		if g.GetOns4Change()[0].GetSuppressed() != g.GetSwemwbsChange().GetSuppressed() {
			t.Errorf("%s: ONS4 and SWEMWBS suppressed differently", g.GetKey())
		}
	}
	if !got["a"] || got["b"] || !got["c"] {
		t.Errorf("suppressed %v, want a and c (c has 3; a is the smallest that hides them)", got)
	}
	if out.GetOverall().GetSwemwbsChange().GetSuppressed() || !out.GetSuppressed() {
		t.Errorf("overall %v suppressed %v", out.GetOverall(), out.GetSuppressed())
	}
}

// A category holding all but 4 of the cases would give those 4's mean by
// difference with the overall one: it is suppressed though it has 21.
func TestReleaseSuppressesAGroupWithASmallComplement(t *testing.T) {
	out := release([]groupRow{
		{Dim: "all", Key: "all", sums: cases(25)},
		{Dim: "category", Key: "food", sums: cases(21)},
		{Dim: "category", Key: "housing", sums: cases(12)},
	}, nil)
	for _, g := range out.GetByCategory() {
		want := g.GetKey() == "food"
		if g.GetSwemwbsChange().GetSuppressed() != want {
			t.Errorf("%s suppressed %v, want %v", g.GetKey(), g.GetSwemwbsChange().GetSuppressed(), want)
		}
	}
	if out.GetByCategory()[0].GetLabel() != "Food" {
		t.Errorf("label %q", out.GetByCategory()[0].GetLabel())
	}
}

// Nothing at all: every group is there with n 0 and nothing released,
// and nothing counts as suppressed.
func TestReleaseOfNothing(t *testing.T) {
	out := release(nil, nil)
	if out.GetOverall().GetN().GetValue() != 0 || len(out.GetByQuintile()) != 5 || out.GetSuppressed() {
		t.Errorf("empty release %v", out)
	}
	if !out.GetOverall().GetSwemwbsChange().GetSuppressed() || len(out.GetOverall().GetOns4Change()) != 4 {
		t.Errorf("overall of nothing %v", out.GetOverall())
	}
}
