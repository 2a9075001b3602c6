package areaclient

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// FileError is a problem found while reading a file, located by feature or
// line number, before anything is sent to the server.
type FileError struct {
	Where string // "feature 12" or "line 40"
	Err   error
}

func (e *FileError) Error() string { return e.Where + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// GeoJSONFields names the properties an area is read from.
type GeoJSONFields struct {
	Code, Name, Parent string // Parent may be empty
}

// lineCounter remembers where the newlines of a stream are, so a syntax
// error at a byte offset can be reported by line.
type lineCounter struct {
	r        io.Reader
	read     int64
	newlines []int64
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			l.newlines = append(l.newlines, l.read+int64(i))
		}
	}
	l.read += int64(n)
	return n, err
}

func (l *lineCounter) line(offset int64) int {
	return sort.Search(len(l.newlines), func(i int) bool { return l.newlines[i] >= offset }) + 1
}

// ReadGeoJSON streams the features of a GeoJSON FeatureCollection, one at a
// time, without holding the file in memory, and calls fn with each as an
// AreaFeature numbered from 1. A feature whose code or name property is
// missing is still passed on (with the field empty) so the server reports
// every bad feature at once; broken JSON stops the read with its line.
func ReadGeoJSON(r io.Reader, f GeoJSONFields, fn func(*sparcv1.AreaFeature) error) error {
	lc := &lineCounter{r: bufio.NewReaderSize(r, 1<<16)}
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	syntax := func(err error, what string) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &FileError{Where: fmt.Sprintf("line %d", lc.line(se.Offset)), Err: fmt.Errorf("broken JSON %s: %v", what, se)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return &FileError{Where: fmt.Sprintf("line %d", lc.line(lc.read)), Err: fmt.Errorf("file ends inside %s", what)}
		}
		return fmt.Errorf("reading %s: %w", what, err)
	}
	tok, err := dec.Token()
	if err != nil {
		return syntax(err, "at the start")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &FileError{Where: "line 1", Err: errors.New("not a GeoJSON FeatureCollection (expected a JSON object)")}
	}
	sawFeatures, sawType := false, ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err, "the FeatureCollection")
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			if err := dec.Decode(&sawType); err != nil {
				return syntax(err, `the "type" member`)
			}
			if sawType != "FeatureCollection" {
				return &FileError{Where: "line 1", Err: fmt.Errorf("type is %q, not FeatureCollection", sawType)}
			}
		case "features":
			sawFeatures = true
			if err := readFeatures(dec, f, fn, syntax); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return syntax(err, fmt.Sprintf("the %q member", key))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntax(err, "the FeatureCollection")
	}
	if !sawFeatures {
		return &FileError{Where: "file", Err: errors.New(`has no "features" array`)}
	}
	return nil
}

func readFeatures(dec *json.Decoder, f GeoJSONFields, fn func(*sparcv1.AreaFeature) error, syntax func(error, string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return syntax(err, `the "features" array`)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return &FileError{Where: "file", Err: errors.New(`"features" is not an array`)}
	}
	n := int64(0)
	for dec.More() {
		n++
		var feat struct {
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
			Geometry   json.RawMessage            `json:"geometry"`
		}
		if err := dec.Decode(&feat); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return &FileError{Where: fmt.Sprintf("feature %d", n), Err: fmt.Errorf("is not a GeoJSON Feature: %v", err)}
			}
			return syntax(err, fmt.Sprintf("feature %d", n))
		}
		af := &sparcv1.AreaFeature{
			FeatureNumber: n,
			Code:          propString(feat.Properties[f.Code]),
			DisplayName:   propString(feat.Properties[f.Name]),
		}
		if f.Parent != "" {
			af.ParentCode = propString(feat.Properties[f.Parent])
		}
		if len(feat.Geometry) > 0 && string(feat.Geometry) != "null" {
			af.GeometryGeojson = string(feat.Geometry)
		}
		if err := fn(af); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntax(err, `the "features" array`)
	}
	return nil
}

// propString renders a string or number property as text; other JSON
// values (objects, null) count as missing.
func propString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String()
	}
	return ""
}

// CSVColumns says which CSV columns hold the code and each attribute
// (attribute name -> column header).
type CSVColumns struct {
	Code       string
	Attributes map[string]string
	// Council, when set, is the column holding each area's council code
	// (an LSOA -> local authority lookup's lad_code).
	Council string
}

// ReadAttributesCSV streams the rows of a CSV file with a header line and
// calls fn with each as an AttributeRow carrying its line number. Empty
// cells are left out (no value); a cell that is not a number stops the read
// with its line and column.
func ReadAttributesCSV(r io.Reader, cols CSVColumns, fn func(*sparcv1.AttributeRow) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &FileError{Where: "line 1", Err: errors.New("file is empty (a header line is needed)")}
		}
		return &FileError{Where: "line 1", Err: err}
	}
	index := map[string]int{}
	for i, h := range header {
		index[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	codeIdx, ok := index[cols.Code]
	if !ok {
		return &FileError{Where: "line 1", Err: fmt.Errorf("no column %q in the header (columns: %s)", cols.Code, strings.Join(header, ", "))}
	}
	type attrCol struct {
		name string
		idx  int
	}
	var attrs []attrCol
	names := make([]string, 0, len(cols.Attributes))
	for name := range cols.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		col := cols.Attributes[name]
		i, ok := index[col]
		if !ok {
			return &FileError{Where: "line 1", Err: fmt.Errorf("no column %q in the header (columns: %s)", col, strings.Join(header, ", "))}
		}
		attrs = append(attrs, attrCol{name, i})
	}
	councilIdx := -1
	if cols.Council != "" {
		if councilIdx, ok = index[cols.Council]; !ok {
			return &FileError{Where: "line 1", Err: fmt.Errorf("no column %q in the header (columns: %s)", cols.Council, strings.Join(header, ", "))}
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return &FileError{Where: fmt.Sprintf("line %d", pe.Line), Err: pe.Err}
			}
			return err
		}
		row := &sparcv1.AttributeRow{LineNumber: int64(line), Code: strings.TrimSpace(rec[codeIdx]), Values: map[string]float64{}}
		if councilIdx >= 0 {
			row.CouncilCode = strings.TrimSpace(rec[councilIdx])
		}
		for _, a := range attrs {
			cell := strings.TrimSpace(rec[a.idx])
			if cell == "" {
				continue
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return &FileError{Where: fmt.Sprintf("line %d", line), Err: fmt.Errorf("column %q: %q is not a number", cols.Attributes[a.name], cell)}
			}
			row.Values[a.name] = v
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}
