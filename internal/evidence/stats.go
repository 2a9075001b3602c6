package evidence

import (
	"math"
)

// swemwbsMetric converts a SWEMWBS raw total (the sum of its seven items,
// 7 to 35; index total-7) to its metric score: the published conversion
// table of Warwick Medical School (Stewart-Brown et al. 2009, Health and
// Quality of Life Outcomes 7:15; the SWEMWBS scoring guidance). SWEMWBS
// fits the Rasch model, and the metric scores are its interval scale: a
// change of one point means the same at the top of the scale as at the
// bottom, which raw totals do not, so changes and their means are
// computed on metric scores.
var swemwbsMetric = [29]float64{
	7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, // 7..13
	15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59, // 14..20
	19.25, 19.98, 20.73, 21.54, 22.35, 23.21, 24.11, // 21..27
	25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, // 28..34
	35.00, // 35
}

// SWEMWBSMetric is the metric score of a raw SWEMWBS total; ok is false
// outside 7..35.
func SWEMWBSMetric(total int) (score float64, ok bool) {
	if total < 7 || total > 35 {
		return 0, false
	}
	return swemwbsMetric[total-7], true
}

// swemwbsMID is the change in the SWEMWBS metric score counted as an
// improvement for one person (docs/analytics.md, "Outcomes as evidence"):
// 3 points. Warwick's guidance puts a meaningful change for an individual
// at 1 to 3 points (estimates by distribution-based methods: half a
// standard deviation, the standard error of measurement); 3 is the
// conservative end, so a person counted as improved changed by more than
// measurement noise would explain. It is a number for a share, not a
// clinical threshold.
const swemwbsMID = 3.0

// minN is the fewest cases an estimate is released from (docs/analytics.md).
// A 95% interval on fewer is mostly noise, and a mean is not protected
// by rounding its count to 5 the way a count is: the mean of a group of
// two, next to one of the same group plus a known person, gives away a
// person's change.
const minN = 10

// z975 is the standard normal quantile at 0.975, for Wilson intervals.
const z975 = 1.959963984540054

// meanCI is the mean of n values, given their sum and sum of squares,
// with the 95% Student t interval: mean ± t(0.975, n-1)·s/√n. n must be
// 2 or more.
func meanCI(n int64, sum, sumsq float64) (mean, lo, hi float64) {
	fn := float64(n)
	mean = sum / fn
	// The sums are of changes of at most ±28 over a year's referrals:
	// far from where the one-pass formula loses precision.
	v := (sumsq - sum*sum/fn) / (fn - 1)
	if v < 0 { // rounding, when every value is the same
		v = 0
	}
	half := tQuantile(0.975, fn-1) * math.Sqrt(v/fn)
	return mean, mean - half, mean + half
}

// wilson is the share k/n with its 95% Wilson score interval, which, unlike
// the normal (Wald) interval, stays inside [0, 1] and keeps its coverage
// near shares of 0 and 1 and for small n.
func wilson(k, n int64) (p, lo, hi float64) {
	fn := float64(n)
	p = float64(k) / fn
	z2 := z975 * z975
	d := 1 + z2/fn
	centre := (p + z2/(2*fn)) / d
	half := z975 / d * math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn))
	return p, centre - half, centre + half
}

// tQuantile is the p quantile (0.5 < p < 1) of Student's t distribution
// with df degrees of freedom: the t with tCDF(t, df) = p, found by
// bisection (tCDF rises with t) to the precision of a float64.
func tQuantile(p, df float64) float64 {
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p {
		lo, hi = hi, hi*2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if tCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is P(T ≤ t) for t ≥ 0: 1 - ½·I_x(df/2, ½) with x = df/(df+t²),
// I the regularised incomplete beta function.
func tCDF(t, df float64) float64 {
	return 1 - 0.5*incBeta(df/2, 0.5, df/(df+t*t))
}

// incBeta is the regularised incomplete beta function I_x(a, b), by its
// continued fraction (Numerical Recipes, 3rd ed., §6.4), using the
// symmetry I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges
// slowly.
func incBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaFraction(a, b, x) / a
	}
	return 1 - front*betaFraction(b, a, 1-x)/b
}

// betaFraction evaluates the continued fraction of incBeta by the
// modified Lentz method.
func betaFraction(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-16
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 1000; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
