package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/sparc-network/sparc/internal/demo"
)

// places draws random points in the demo regions: inside real LSOA
// polygons for the UK regions (so density follows neighbourhoods, as
// listings do) and in a box over Rotterdam's neighbourhoods.
type places struct {
	regions []placeRegion
	total   float64
}

type placeRegion struct {
	name, country, tz string
	weight            float64
	areas             []demo.Area // empty for a box region
	box               [4]float64  // minLng, minLat, maxLng, maxLat
}

// regionWeights say how the synthetic directory spreads over the regions.
var regionWeights = map[string]float64{"Birmingham": 0.40, "Wirral": 0.15, "Gwent": 0.20}

func newPlaces() (*places, error) {
	p := &places{}
	for _, r := range demo.Regions {
		areas, err := demo.LoadAreas(r)
		if err != nil {
			return nil, fmt.Errorf("demo areas of %s: %w", r.Name, err)
		}
		w, ok := regionWeights[r.Name]
		if !ok {
			return nil, fmt.Errorf("no benchmark weight for demo region %s", r.Name)
		}
		p.regions = append(p.regions, placeRegion{name: r.Name, country: "GB", tz: "Europe/London", weight: w, areas: areas})
	}
	p.regions = append(p.regions, placeRegion{name: "Rotterdam", country: "NL", tz: "Europe/Amsterdam", weight: 0.25,
		box: [4]float64{4.35, 51.86, 4.57, 51.95}})
	for _, r := range p.regions {
		p.total += r.weight
	}
	return p, nil
}

// place is a random location with what an asset there needs.
type place struct {
	lat, lng              float64
	region, country, tz   string
	locality, neighbourhd string
}

func (p *places) draw(rng *rand.Rand) place {
	x := rng.Float64() * p.total
	r := p.regions[len(p.regions)-1]
	for _, c := range p.regions {
		if x < c.weight {
			r = c
			break
		}
		x -= c.weight
	}
	pl := place{region: r.name, country: r.country, tz: r.tz, locality: r.name}
	if len(r.areas) > 0 {
		a := r.areas[rng.IntN(len(r.areas))]
		pl.lng, pl.lat = demo.PointIn(a.Rings, rng)
		pl.neighbourhd = a.Name
		if a.Locality != "" {
			pl.locality = a.Locality
		}
		return pl
	}
	pl.lng = r.box[0] + rng.Float64()*(r.box[2]-r.box[0])
	pl.lat = r.box[1] + rng.Float64()*(r.box[3]-r.box[1])
	pl.neighbourhd = "Rotterdam"
	return pl
}
