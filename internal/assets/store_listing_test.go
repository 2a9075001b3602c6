package assets

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every point at distance r from the centre (on PostGIS's sphere) must be
// inside circleBox, or the proximity count would miss it.
func TestCircleBoxHoldsTheWholeCircle(t *testing.T) {
	const R = 6371008.8
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		lat := rng.Float64()*178 - 89
		lng := rng.Float64()*358 - 179
		r := math.Pow(10, rng.Float64()*5) // 1 m to 100 km
		box := circleBox(lat, lng, r)
		φ1, λ1, δ := lat*math.Pi/180, lng*math.Pi/180, r/R
		for b := 0.0; b < 360; b += 2.5 {
			θ := b * math.Pi / 180
			φ2 := math.Asin(math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ))
			λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*math.Sin(φ2))
			y, x := φ2*180/math.Pi, λ2*180/math.Pi
			if x > 180 {
				x -= 360
			}
			if x < -180 {
				x += 360
			}
			if x < box[0] || x > box[2] || y < box[1] || y > box[3] {
				t.Fatalf("point (%f, %f) at %.0f m from (%f, %f) is outside box %v", y, x, r, lat, lng, box)
			}
		}
	}
}
