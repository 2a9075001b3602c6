package evidence

import (
	"math"
	"testing"
)

// Student t quantiles from published tables (and R's qt), to 6 decimals.
func TestTQuantileMatchesTables(t *testing.T) {
	for _, c := range []struct {
		p, df, want float64
	}{
		{0.975, 1, 12.706205},
		{0.975, 2, 4.302653},
		{0.975, 4, 2.776445},
		{0.975, 9, 2.262157},
		{0.975, 11, 2.200985},
		{0.975, 29, 2.045230},
		{0.975, 100, 1.983972},
		{0.975, 1000, 1.962339},
		{0.95, 9, 1.833113},
		{0.995, 9, 3.249836},
	} {
		if got := tQuantile(c.p, c.df); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("t(%g, %g) = %.7f, want %.6f", c.p, c.df, got, c.want)
		}
	}
}

// Wilson interval of 7 out of 10, by hand: p = 0.7, z = 1.959964,
// z² = 3.841459; centre = (0.7 + 0.192073)/1.384146 = 0.644493;
// half = 1.959964/1.384146 · √(0.021 + 0.009604) = 0.247715, so
// [0.396778, 0.892209] (as published tables give, [0.3968, 0.8922]).
func TestWilsonByHand(t *testing.T) {
	p, lo, hi := wilson(7, 10)
	if p != 0.7 || math.Abs(lo-0.396778) > 1e-6 || math.Abs(hi-0.892209) > 1e-6 {
		t.Errorf("wilson(7, 10) = %.6f [%.6f, %.6f], want 0.7 [0.396778, 0.892209]", p, lo, hi)
	}
	// 0 of 12 still has an upper bound above 0 and a lower bound of 0.
	if _, lo, hi := wilson(0, 12); math.Abs(lo) > 1e-12 || math.Abs(hi-0.242494) > 1e-6 {
		t.Errorf("wilson(0, 12) = [%.6f, %.6f], want [0, 0.242494]", lo, hi)
	}
}

// The conversion table runs from 7 to 35, keeps the ends and rises.
func TestSWEMWBSMetricTable(t *testing.T) {
	if s, ok := SWEMWBSMetric(7); !ok || s != 7 {
		t.Errorf("7 -> %v %v", s, ok)
	}
	if s, ok := SWEMWBSMetric(35); !ok || s != 35 {
		t.Errorf("35 -> %v %v", s, ok)
	}
	if s, ok := SWEMWBSMetric(21); !ok || s != 19.25 {
		t.Errorf("21 -> %v %v", s, ok)
	}
	for _, bad := range []int{6, 36, 0} {
		if _, ok := SWEMWBSMetric(bad); ok {
			t.Errorf("%d converted", bad)
		}
	}
	for i := 1; i < len(swemwbsMetric); i++ {
		if swemwbsMetric[i] <= swemwbsMetric[i-1] {
			t.Errorf("metric score of %d (%v) is not above that of %d (%v)", i+7, swemwbsMetric[i], i+6, swemwbsMetric[i-1])
		}
	}
}

// The DB tests' hand computations use t quantiles typed from tables;
// they agree with tQuantile.
func TestTableQuantilesAgree(t *testing.T) {
	for df, q := range map[float64]float64{12: 2.178812829663418, 32: 2.036933343460101, 28: 2.048407141795244, 33: 2.034515297449338, 34: 2.032244509317718, 11: 2.200985160082949} {
		if got := tQuantile(0.975, df); math.Abs(got-q) > 1e-9 {
			t.Errorf("t(0.975, %g) = %.12f, table %.12f", df, got, q)
		}
	}
}
