package postcodes

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Row is one postcode to load.
type Row struct {
	Line        int64
	Code        Code
	Lat, Lng    float64
	LSOA        string
	Council     string
	Quality     int16
	Source      string
	RawPostcode string
}

// Sources SPARC knows, and the attribution each licence asks for.
const (
	SourceCodePoint = "codepoint-open"
	SourceGeoNames  = "geonames-pc4"
)

// Attribution is the attribution text for a source ("" when unknown).
func Attribution(source string) string {
	switch source {
	case SourceCodePoint:
		return "Contains Ordnance Survey data © Crown copyright and database right 2014. " +
			"Contains Royal Mail data © Royal Mail copyright and database right 2014. " +
			"Contains National Statistics data © Crown copyright and database right 2014."
	case SourceGeoNames:
		return "Postal code data © GeoNames (www.geonames.org), CC BY 4.0"
	}
	return ""
}

// maxBadRows is how many bad rows a read reports before it stops.
const maxBadRows = 20

// Reader reads a postcode file: CSV with a header naming the columns
// postcode, latitude, longitude and optionally lsoa11 (or lsoa_code),
// lad_code (or council_code), municipality_code (Dutch, made "GM…") and
// positional_quality; the Code-Point CSV SPARC's data directory holds and
// the GeoNames PC4 file both read as they are. Gzip is recognised by its
// magic bytes.
type Reader struct {
	r       *csv.Reader
	col     map[string]int
	country string
	source  string
	line    int64
	bad     []string
	nbad    int
}

// NewReader reads the file in r for country ("" decides per row) and
// records source on each row.
func NewReader(r io.Reader, country, source string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip: %w", err)
		}
		r = zr
	} else {
		r = br
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"postcode", "latitude", "longitude"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the header has no %q column (need postcode, latitude, longitude)", need)
		}
	}
	return &Reader{r: cr, col: col, country: country, source: source, line: 1}, nil
}

func (r *Reader) field(rec []string, names ...string) string {
	for _, n := range names {
		if i, ok := r.col[n]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
	}
	return ""
}

// Next returns the next good row; io.EOF at the end, or an error listing
// the bad rows (up to maxBadRows) when there were any: a file loads whole
// or not at all.
func (r *Reader) Next() (Row, error) {
	for {
		rec, err := r.r.Read()
		r.line++
		if errors.Is(err, io.EOF) {
			if r.nbad > 0 {
				return Row{}, r.badErr()
			}
			return Row{}, io.EOF
		}
		if err != nil {
			return Row{}, fmt.Errorf("line %d: %w", r.line, err)
		}
		row, err := r.row(rec)
		if err != nil {
			r.nbad++
			if len(r.bad) < maxBadRows {
				r.bad = append(r.bad, fmt.Sprintf("line %d: %v", r.line, err))
			}
			if r.nbad >= maxBadRows {
				return Row{}, r.badErr()
			}
			continue
		}
		if r.nbad == 0 {
			return row, nil
		}
	}
}

func (r *Reader) badErr() error {
	return fmt.Errorf("%d bad rows, nothing loaded:\n  %s", r.nbad, strings.Join(r.bad, "\n  "))
}

func (r *Reader) row(rec []string) (Row, error) {
	raw := r.field(rec, "postcode")
	code, err := Parse(r.country, raw)
	if err != nil {
		return Row{}, fmt.Errorf("postcode %q: %w", apierr.Clip(raw, 64), err)
	}
	lat, err := strconv.ParseFloat(r.field(rec, "latitude"), 64)
	if err != nil || math.IsNaN(lat) || lat < -90 || lat > 90 {
		return Row{}, fmt.Errorf("latitude %q is not a number between -90 and 90", apierr.Clip(r.field(rec, "latitude"), 64))
	}
	lng, err := strconv.ParseFloat(r.field(rec, "longitude"), 64)
	if err != nil || math.IsNaN(lng) || lng < -180 || lng > 180 {
		return Row{}, fmt.Errorf("longitude %q is not a number between -180 and 180", apierr.Clip(r.field(rec, "longitude"), 64))
	}
	row := Row{Line: r.line, Code: code, Lat: lat, Lng: lng, Source: r.source, RawPostcode: raw,
		LSOA: r.field(rec, "lsoa11", "lsoa_code"), Council: r.field(rec, "lad_code", "council_code")}
	// A PC4 across several municipalities lists them all ("1961|1978"):
	// its council is not known.
	if m := r.field(rec, "municipality_code"); row.Council == "" && m != "" && !strings.Contains(m, "|") {
		row.Council = "GM" + m
	}
	if q := r.field(rec, "positional_quality", "quality"); q != "" {
		n, err := strconv.ParseInt(q, 10, 16)
		if err != nil || n < 0 {
			return Row{}, fmt.Errorf("positional_quality %q is not a small whole number", apierr.Clip(q, 64))
		}
		row.Quality = int16(n)
	}
	if !codeText(row.LSOA) || !codeText(row.Council) {
		return Row{}, fmt.Errorf("lsoa or council code %q/%q is not a code (letters and digits, at most 16)", apierr.Clip(row.LSOA, 64), apierr.Clip(row.Council, 64))
	}
	if row.Source == "" {
		row.Source = SourceCodePoint
		if code.Country == NL {
			row.Source = SourceGeoNames
		}
	}
	return row, nil
}

// codeText accepts an official code such as E01033620 or GM0599, or none.
func codeText(s string) bool {
	if len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
