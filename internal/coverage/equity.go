package coverage

import (
	"sort"
)

// Summary is the equity summary of a computation.
type Summary struct {
	Areas            int
	Population       int64
	WithoutWalk      int
	Measure          string
	Deciles          []DecileSummary
	Places           Comparison
	ShareWithoutWalk Comparison
	ConcentrationIdx *float64
}

// DecileSummary aggregates the areas of one deprivation decile.
type DecileSummary struct {
	Decile           int32
	Areas            int
	Population       int64
	MeanPlaces       *float64 // mean of the areas' weekly places per 1,000
	ShareWithoutWalk float64
}

// Comparison sets the most deprived quintile (deciles 1-2) against the
// least deprived (deciles 9-10).
type Comparison struct {
	Most, Least, Ratio, Gap *float64
}

func compare(most, least *float64) Comparison {
	c := Comparison{Most: most, Least: least}
	if most != nil && least != nil {
		gap := *most - *least
		c.Gap = &gap
		if *least != 0 {
			r := *most / *least
			c.Ratio = &r
		}
	}
	return c
}

// Summarise computes the equity summary over the areas (deciles must be
// assigned). Places per 1,000 are compared as plain means of the areas'
// rates; the concentration index weights areas by population.
func Summarise(list []*area) Summary {
	s := Summary{Areas: len(list)}
	type acc struct {
		areas, withPop, without int
		pop                     int64
		places                  float64
	}
	var dec [11]acc // index 1..10
	for _, a := range list {
		s.Population += a.Population
		if a.Within == 0 {
			s.WithoutWalk++
		}
		if s.Measure == "" {
			s.Measure = a.Measure
		}
		if a.Decile < 1 {
			continue
		}
		d := &dec[a.Decile]
		d.areas++
		d.pop += a.Population
		if a.Within == 0 {
			d.without++
		}
		if r := rate(a.Places, a.Population); r != nil {
			d.withPop++
			d.places += *r
		}
	}
	var q1, q5 acc // most and least deprived quintiles
	for i := 1; i <= 10; i++ {
		d := dec[i]
		if d.areas == 0 {
			continue
		}
		ds := DecileSummary{Decile: int32(i), Areas: d.areas, Population: d.pop,
			ShareWithoutWalk: float64(d.without) / float64(d.areas)}
		if d.withPop > 0 {
			m := d.places / float64(d.withPop)
			ds.MeanPlaces = &m
		}
		s.Deciles = append(s.Deciles, ds)
		target := &q1
		if i >= 9 {
			target = &q5
		} else if i > 2 {
			continue
		}
		target.areas += d.areas
		target.without += d.without
		target.withPop += d.withPop
		target.places += d.places
	}
	mean := func(a acc) *float64 {
		if a.withPop == 0 {
			return nil
		}
		m := a.places / float64(a.withPop)
		return &m
	}
	share := func(a acc) *float64 {
		if a.areas == 0 {
			return nil
		}
		m := float64(a.without) / float64(a.areas)
		return &m
	}
	s.Places = compare(mean(q1), mean(q5))
	s.ShareWithoutWalk = compare(share(q1), share(q5))
	s.ConcentrationIdx = concentrationIndex(list)
	return s
}

// concentrationIndex is the population-weighted concentration index of
// weekly places per 1,000, with areas ranked from most (rank 0) to least
// (rank 1) deprived:
//
//	C = 2/μ · Σ wᵢ (hᵢ − μ)(Rᵢ − ½)
//
// where wᵢ are population shares, μ = Σ wᵢhᵢ, and Rᵢ is the fractional
// rank (cumulative share of the population before the area plus half its
// own). Areas tied on deprivation share the rank of their group's middle.
// Absent when no area has both a population and a decile, or μ = 0.
func concentrationIndex(list []*area) *float64 {
	type pt struct {
		order, w, h float64
	}
	var pts []pt
	var total float64
	for _, a := range list {
		if a.Decile < 1 || a.Population <= 0 {
			continue
		}
		h := a.Places * 1000 / float64(a.Population)
		pts = append(pts, pt{order: deprivationOrder(a), w: float64(a.Population), h: h})
		total += float64(a.Population)
	}
	if len(pts) == 0 {
		return nil
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].order < pts[j].order })
	var mu float64
	for i := range pts {
		pts[i].w /= total
		mu += pts[i].w * pts[i].h
	}
	if mu == 0 {
		return nil
	}
	var cum, sum float64
	for i := 0; i < len(pts); {
		j, groupW := i, 0.0
		for ; j < len(pts) && pts[j].order == pts[i].order; j++ {
			groupW += pts[j].w
		}
		r := cum + groupW/2
		for k := i; k < j; k++ {
			sum += pts[k].w * (pts[k].h - mu) * (r - 0.5)
		}
		cum += groupW
		i = j
	}
	c := 2 * sum / mu
	return &c
}
