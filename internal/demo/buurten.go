package demo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
)

// Rotterdam's neighbourhoods: CBS buurten with the CBS key figures of 2017
// (data/README.md: CC BY 4.0, "Kadaster / CBS").
const (
	BuurtFile = "data/rotterdam-buurten-cbs.geojson.gz"
	BuurtKind = "buurt"
	// IncomeAttribute is CBS's average income per inhabitant (× €1,000),
	// the buurten's deprivation measure: lower = more deprived.
	IncomeAttribute = "avg_income_per_inhabitant_keur"
	// IncomeQuintileAttribute is the buurt's income quintile within its
	// municipality, 1 = the lowest-income fifth.
	IncomeQuintileAttribute = "income_quintile"
)

// BuurtMeasure declares income the buurten's deprivation measure. The
// rank scale orders areas by value, lowest = most deprived, and forms
// deciles over the areas asked for, which is how income reads.
var BuurtMeasure = &sparcv1.SetDeprivationMeasureRequest{
	Kind: BuurtKind, Attribute: IncomeAttribute, Scale: sparcv1.DeprivationScale_DEPRIVATION_SCALE_RANK,
}

// BuurtReport says what ImportBuurten did with a file. Real files are
// imperfect: features without a code or a polygon are skipped, and
// missing figures (CBS suppresses income for business parks and ports)
// are left out, each counted.
type BuurtReport struct {
	Imported          int64
	Repaired          []*sparcv1.RepairedFeature // rings ST_MakeValid repaired
	Skipped           []string                   // "feature 12: why"
	WithoutIncome     int
	WithoutPopulation int
}

// buurtFeature is one feature of a CBS buurten file as ImportBuurten
// reads it.
type buurtFeature struct {
	Geometry   json.RawMessage `json:"geometry"`
	Properties struct {
		Code       string   `json:"code"`
		Name       string   `json:"name"`
		Gemeente   string   `json:"gm_code"`
		Population *float64 `json:"population_2017"`
		Income     *float64 `json:"avg_income_per_inhabitant_keur"`
	} `json:"properties"`
}

// ImportBuurten imports a CBS buurten GeoJSON file (properties code, name,
// gm_code, population_2017, avg_income_per_inhabitant_keur) as areas of
// kind buurt with their gemeente as council, population, income and
// income quintile within the gemeente, and declares income the measure.
func ImportBuurten(ctx context.Context, svc *areas.Service, r io.Reader) (BuurtReport, error) {
	var rep BuurtReport
	var doc struct {
		Features []buurtFeature `json:"features"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return rep, fmt.Errorf("reading buurten: %w", err)
	}
	var feats []*sparcv1.AreaFeature
	var rows []*sparcv1.AttributeRow
	for i, f := range doc.Features {
		n, p := int64(i+1), f.Properties
		if why := buurtProblem(f); why != "" {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("feature %d: %s", n, why))
			continue
		}
		feats = append(feats, &sparcv1.AreaFeature{FeatureNumber: n, Code: p.Code, DisplayName: p.Name, GeometryGeojson: string(f.Geometry)})
		row := &sparcv1.AttributeRow{LineNumber: n, Code: p.Code, CouncilCode: p.Gemeente, Values: map[string]float64{}}
		if p.Population != nil && *p.Population >= 0 {
			row.Values[areas.PopulationAttribute] = *p.Population
		} else {
			rep.WithoutPopulation++
		}
		if p.Income != nil {
			row.Values[IncomeAttribute] = *p.Income
		} else {
			rep.WithoutIncome++
		}
		rows = append(rows, row)
	}
	incomeQuintiles(rows)
	res, err := svc.Import(ctx, areas.AreaImport{Kind: BuurtKind, Source: BuurtFile}, once(feats))
	if err != nil {
		return rep, fmt.Errorf("importing buurten: %w", err)
	}
	rep.Imported, rep.Repaired = res.GetCreated()+res.GetUpdated(), res.GetRepaired()
	if _, err := svc.ImportAttributes(ctx, BuurtFile, false, once(rows)); err != nil {
		return rep, fmt.Errorf("importing buurten figures: %w", err)
	}
	if _, err := svc.SetDeprivationMeasure(ctx, BuurtMeasure); err != nil {
		return rep, err
	}
	return rep, nil
}

// buurtProblem says why a feature cannot be imported, "" when it can.
func buurtProblem(f buurtFeature) string {
	var g struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(f.Geometry, &g) // null or broken: no type
	switch {
	case strings.TrimSpace(f.Properties.Code) == "":
		return "no code"
	case strings.TrimSpace(f.Properties.Name) == "":
		return "no name"
	case g.Type != "Polygon" && g.Type != "MultiPolygon":
		return "no polygon geometry"
	}
	return ""
}

// incomeQuintiles sets each row's income quintile within its gemeente:
// rows with an income, ordered by income (then code), cut into five
// equal-count groups, 1 = lowest income.
func incomeQuintiles(rows []*sparcv1.AttributeRow) {
	byGemeente := map[string][]*sparcv1.AttributeRow{}
	for _, r := range rows {
		if _, ok := r.Values[IncomeAttribute]; ok {
			byGemeente[r.CouncilCode] = append(byGemeente[r.CouncilCode], r)
		}
	}
	for _, g := range byGemeente {
		slices.SortFunc(g, func(a, b *sparcv1.AttributeRow) int {
			return cmp.Or(cmp.Compare(a.Values[IncomeAttribute], b.Values[IncomeAttribute]), strings.Compare(a.Code, b.Code))
		})
		for i, r := range g {
			r.Values[IncomeQuintileAttribute] = float64(i*5/len(g) + 1)
		}
	}
}

// importBuurten imports the demo's Rotterdam buurten unless their measure
// (declared last) is there, and logs what the file lacked.
func importBuurten(ctx context.Context, svc *areas.Service, log *slog.Logger) (int64, error) {
	if attr, err := svc.DeprivationAttribute(ctx, BuurtKind); err != nil || attr == IncomeAttribute {
		return 0, err
	}
	b, err := ReadAreaData(BuurtFile)
	if err != nil {
		return 0, err
	}
	rep, err := ImportBuurten(ctx, svc, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if len(rep.Skipped) > 0 || len(rep.Repaired) > 0 || rep.WithoutIncome > 0 || rep.WithoutPopulation > 0 {
		log.WarnContext(ctx, "demo buurten imported with gaps", "file", BuurtFile, "imported", rep.Imported,
			"skipped", len(rep.Skipped), "repaired", len(rep.Repaired),
			"without_income", rep.WithoutIncome, "without_population", rep.WithoutPopulation)
	}
	return rep.Imported, nil
}
