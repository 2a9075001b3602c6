package coverage_test

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A small Mapbox Vector Tile decoder (spec 2.1) for tests, written on
// protowire so the tiles are checked independently of PostGIS.

type mvtLayer struct {
	name     string
	extent   uint64
	features []mvtFeature
}

type mvtFeature struct {
	typ   uint64 // 1 point, 2 line, 3 polygon
	props map[string]any
	geom  []uint64
}

func decodeMVT(b []byte) (map[string]*mvtLayer, error) {
	layers := map[string]*mvtLayer{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 3 || typ != protowire.BytesType {
			return nil
		}
		l, err := decodeLayer(v)
		if err != nil {
			return err
		}
		layers[l.name] = l
		return nil
	})
	return layers, err
}

func decodeLayer(b []byte) (*mvtLayer, error) {
	l := &mvtLayer{extent: 4096}
	var keys []string
	var values []any
	type rawFeature struct {
		typ        uint64
		tags, geom []uint64
	}
	var raws []rawFeature
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			l.name = string(v)
		case 3:
			keys = append(keys, string(v))
		case 4:
			val, err := decodeValue(v)
			if err != nil {
				return err
			}
			values = append(values, val)
		case 5:
			l.extent = n
		case 2:
			var f rawFeature
			if err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
				var err error
				switch num {
				case 2:
					f.tags, err = packed(v)
				case 3:
					f.typ = n
				case 4:
					f.geom, err = packed(v)
				}
				return err
			}); err != nil {
				return err
			}
			raws = append(raws, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range raws {
		f := mvtFeature{typ: r.typ, geom: r.geom, props: map[string]any{}}
		if len(r.tags)%2 != 0 {
			return nil, fmt.Errorf("layer %s: odd number of tags", l.name)
		}
		for i := 0; i < len(r.tags); i += 2 {
			if int(r.tags[i]) >= len(keys) || int(r.tags[i+1]) >= len(values) {
				return nil, fmt.Errorf("layer %s: tag out of range", l.name)
			}
			f.props[keys[r.tags[i]]] = values[r.tags[i+1]]
		}
		l.features = append(l.features, f)
	}
	return l, nil
}

func decodeValue(b []byte) (any, error) {
	var out any
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			out = string(v)
		case 2:
			out = float64(math.Float32frombits(uint32(n)))
		case 3:
			out = math.Float64frombits(n)
		case 4:
			out = float64(int64(n))
		case 5:
			out = float64(n)
		case 6:
			out = float64(protowire.DecodeZigZag(n))
		case 7:
			out = n != 0
		}
		return nil
	})
	return out, err
}

// fields walks a message, giving each field's bytes (length-delimited) or
// number (varint and fixed).
func fields(b []byte, fn func(protowire.Number, protowire.Type, []byte, uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("unexpected wire type %d", typ)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func packed(b []byte) ([]uint64, error) {
	var out []uint64
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// points decodes a feature's geometry commands into tile coordinates.
func (f mvtFeature) points() [][2]int64 {
	var out [][2]int64
	var x, y int64
	for i := 0; i < len(f.geom); {
		id, count := f.geom[i]&7, f.geom[i]>>3
		i++
		if id == 7 {
			continue
		}
		for k := uint64(0); k < count && i+1 < len(f.geom); k++ {
			x += protowire.DecodeZigZag(f.geom[i])
			y += protowire.DecodeZigZag(f.geom[i+1])
			i += 2
			out = append(out, [2]int64{x, y})
		}
	}
	return out
}
