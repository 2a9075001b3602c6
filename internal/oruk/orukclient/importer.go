package orukclient

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/oruk"
)

// Problem is one line of the import report.
type Problem struct {
	Record   string `json:"record"`   // where in the feed, and the service id when known
	Severity string `json:"severity"` // "error": not imported; "warning": imported without this
	Message  string `json:"message"`
}

// Report says what an import did.
type Report struct {
	Source    string `json:"source"`
	Services  int    `json:"services"` // service records read from the feed
	Assets    int    `json:"assets"`   // assets the valid records map to
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"` // records (services or locations) not imported
	// Organizations are the source organisations the feed's services
	// name, by name; their services are imported as the importing
	// organisation's (see SourceOrg).
	Organizations []SourceOrg `json:"organizations"`
	Problems      []Problem   `json:"problems"`
}

// Errors counts the report's error lines.
func (r *Report) Errors() int {
	n := 0
	for _, p := range r.Problems {
		if p.Severity == "error" {
			n++
		}
	}
	return n
}

// UpsertFunc writes one batch of records (the DirectoryImportService RPC).
type UpsertFunc func(ctx context.Context, req *sparcv1.UpsertSourcedAssetsRequest) (*sparcv1.UpsertSourcedAssetsResponse, error)

// BatchSize is the number of records per upsert call (the RPC's maximum).
const BatchSize = oruk.MaxBatch

// batchesInFlight is how many upsert calls an import has running at once.
const batchesInFlight = 2

// decodedRecord is one feed record after decoding and mapping.
type decodedRecord struct {
	id     string
	org    *SourceOrg
	mapped []Mapped
	err    error
}

// Import maps the records to assets and upserts them in batches. Records
// that cannot be read or mapped, duplicate ids, and records the server
// rejects are reported and left out; everything else is written. The
// error is for failures that stop the import (the server unreachable);
// batches written before such a failure stay written, each record whole,
// and the report counts them.
func Import(ctx context.Context, recs []RawRecord, fetchErrs []FetchError, o MapOptions, setOwner bool, upsert UpsertFunc) (*Report, error) {
	rep := &Report{Source: o.Source, Problems: []Problem{}, Organizations: []SourceOrg{}}
	for _, fe := range fetchErrs {
		rep.Services++
		rep.Rejected++
		rep.addError(fe.Where, fe.Err.Error())
	}
	mapped, serviceWhere := rep.collect(recs, decodeAll(recs, o))
	sort.SliceStable(rep.Organizations, func(i, j int) bool { return rep.Organizations[i].Name < rep.Organizations[j].Name })
	todo := rep.screen(mapped, serviceWhere)
	rep.Assets = len(todo)
	batches := sendBatches(ctx, todo, &sparcv1.UpsertSourcedAssetsRequest{Source: o.Source, SetOwner: setOwner}, upsert)
	if err := rep.count(batches, len(todo)); err != nil {
		return rep, err
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		return rep.Problems[i].Severity == "error" && rep.Problems[j].Severity != "error"
	})
	return rep, nil
}

func (r *Report) addError(record, msg string) {
	r.Problems = append(r.Problems, Problem{Record: record, Severity: "error", Message: msg})
}

// decodeAll decodes and maps every record first (duplicates can only be
// found with the whole feed in hand), spread over the CPUs.
func decodeAll(recs []RawRecord, o MapOptions) []decodedRecord {
	decoded := make([]decodedRecord, len(recs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(recs)/500))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				var s oruk.Service
				if err := json.Unmarshal(recs[i].JSON, &s); err != nil {
					decoded[i].err = err
					continue
				}
				decoded[i].id = s.ID
				decoded[i].org = sourceOrg(s)
				decoded[i].mapped = MapService(s, o)
			}
		}()
	}
	wg.Wait()
	return decoded
}

// entry is one mapped asset with where its record is in the feed.
type entry struct {
	where string
	m     Mapped
}

// label names the entry in the report: where, and its source id when the
// service was split.
func (e entry) label() string {
	if e.m.Key == "" {
		return e.where
	}
	return e.where + " (" + e.m.Key + ")"
}

// collect counts the decoded records, reports those that could not be
// read, and returns the mapped assets with, per service id, where in the
// feed that id stands.
func (r *Report) collect(recs []RawRecord, decoded []decodedRecord) ([]entry, map[string][]string) {
	var mapped []entry
	serviceWhere := map[string][]string{}
	orgAt := map[string]int{}
	for i, d := range decoded {
		r.Services++
		if o := d.org; o != nil {
			k := o.ID + "\n" + o.Name
			if j, ok := orgAt[k]; ok {
				r.Organizations[j].Services++
			} else {
				orgAt[k] = len(r.Organizations)
				o.Services = 1
				r.Organizations = append(r.Organizations, *o)
			}
		}
		if d.err != nil {
			r.Rejected++
			r.addError(recs[i].Where, "not a readable service: "+cleanJSONError(d.err))
			continue
		}
		if d.id != "" {
			serviceWhere[d.id] = append(serviceWhere[d.id], recs[i].Where)
		}
		for _, m := range d.mapped {
			mapped = append(mapped, entry{where: recs[i].Where, m: m})
		}
	}
	return mapped, serviceWhere
}

// screen reports every mapped asset's warnings and keeps those to send:
// not rejected by the mapping and not a duplicate. Duplicate ids make the
// feed ambiguous: none of the copies is imported.
func (r *Report) screen(mapped []entry, serviceWhere map[string][]string) []entry {
	keyCount := map[uuid.UUID]int{}
	for _, e := range mapped {
		if e.m.Asset != nil {
			keyCount[e.m.AssetID]++
		}
	}
	var todo []entry
	for _, e := range mapped {
		for _, w := range e.m.Warnings {
			r.Problems = append(r.Problems, Problem{Record: e.label(), Severity: "warning", Message: w})
		}
		switch {
		case len(e.m.Errors) > 0:
			r.Rejected++
			for _, msg := range e.m.Errors {
				r.addError(e.label(), msg)
			}
		case keyCount[e.m.AssetID] > 1:
			r.Rejected++
			id := strings.SplitN(e.m.Key, "/", 2)[0]
			r.addError(e.label(), fmt.Sprintf("duplicate id: service %s appears %d times in the feed (%s); none of them is imported",
				id, len(serviceWhere[id]), strings.Join(serviceWhere[id], ", ")))
		default:
			todo = append(todo, e)
		}
	}
	return todo
}

// sent is one batch and how the server answered it.
type sent struct {
	start int
	batch []entry
	resp  *sparcv1.UpsertSourcedAssetsResponse
	err   error
}

// sendBatches sends todo in batches, two in flight: while the database
// writes one, the server validates the next. head carries the fields
// every batch's request shares. After a failure no more batches are
// sent; those not sent carry the context's error.
func sendBatches(ctx context.Context, todo []entry, head *sparcv1.UpsertSourcedAssetsRequest, upsert UpsertFunc) []*sent {
	var batches []*sent
	for start := 0; start < len(todo); start += BatchSize {
		batches = append(batches, &sent{start: start, batch: todo[start:min(start+BatchSize, len(todo))]})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, batchesInFlight)
	var wg sync.WaitGroup
	for _, b := range batches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			b.err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if b.send(ctx, head, upsert); b.err != nil {
				cancel() // stop sending more after a failure
			}
		}()
	}
	wg.Wait()
	return batches
}

func (b *sent) send(ctx context.Context, head *sparcv1.UpsertSourcedAssetsRequest, upsert UpsertFunc) {
	req := &sparcv1.UpsertSourcedAssetsRequest{Source: head.GetSource(), SetOwner: head.GetSetOwner()}
	for _, e := range b.batch {
		req.Records = append(req.Records, &sparcv1.SourcedAsset{SourceId: e.m.Key, AssetName: aip.Name(aip.Assets, e.m.AssetID), Asset: e.m.Asset})
	}
	b.resp, b.err = upsert(ctx, req)
	if b.err == nil && len(b.resp.GetResults()) != len(b.batch) {
		b.err = fmt.Errorf("server answered %d results for %d records", len(b.resp.GetResults()), len(b.batch))
	}
}

// count adds the server's answers to the report, in batch order, and
// returns the first batch's failure, if any, saying which records it held.
func (r *Report) count(batches []*sent, total int) error {
	var firstErr error
	for _, b := range batches {
		if b.err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("importing records %d to %d of %d: %w", b.start+1, b.start+len(b.batch), total, b.err)
			}
			continue
		}
		for i, res := range b.resp.GetResults() {
			switch res.GetOutcome() {
			case sparcv1.UpsertOutcome_UPSERT_OUTCOME_CREATED:
				r.Created++
			case sparcv1.UpsertOutcome_UPSERT_OUTCOME_UPDATED:
				r.Updated++
			case sparcv1.UpsertOutcome_UPSERT_OUTCOME_UNCHANGED:
				r.Unchanged++
			default:
				r.Rejected++
				r.addError(b.batch[i].label(), "rejected by SPARC: "+rejection(res))
			}
		}
	}
	return firstErr
}

// rejection says in one line why the server rejected a record: its field
// violations when it gave any.
func rejection(res *sparcv1.UpsertResult) string {
	if len(res.GetViolations()) == 0 {
		return res.GetError()
	}
	var parts []string
	for _, v := range res.GetViolations() {
		parts = append(parts, v.GetField()+": "+v.GetDescription())
	}
	return strings.Join(parts, "; ")
}

// cleanJSONError shortens encoding/json's messages to what a feed author
// needs (the field and the wrong type).
func cleanJSONError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("field %s: %s where %s was expected", te.Field, te.Value, te.Type)
	}
	return err.Error()
}
