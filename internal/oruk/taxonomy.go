package oruk

import (
	"crypto/sha256"
	"strings"
	"sync"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/vocab"
)

// namespace seeds the UUIDv5 ids of things that are not tied to one asset
// (taxonomies, terms, organizations named by a plain owner string).
var Namespace = uuid.MustParse("0d6f3c1e-5b7a-4e0c-8a55-3f1b2c9d7e41")

// derivedID is the stable id of one part of an asset's ORUK record (its
// location, service_at_location, schedules, ...): the asset id XOR a mask
// fixed per part. The mask leaves the version and variant bits alone, so
// the result is a valid UUID of the same version, and the mapping can be
// inverted (assetOf) to serve GET /service_at_locations/{id} with one
// primary-key lookup and no stored ids.
func derivedID(asset uuid.UUID, part string) uuid.UUID {
	m := mask(part)
	var out uuid.UUID
	for i := range out {
		out[i] = asset[i] ^ m[i]
	}
	return out
}

// assetOf inverts derivedID.
func assetOf(id uuid.UUID, part string) uuid.UUID { return derivedID(id, part) }

// masks caches mask per part: every service written needs a dozen.
var masks sync.Map // string → [16]byte

func mask(part string) [16]byte {
	if m, ok := masks.Load(part); ok {
		return m.([16]byte)
	}
	h := sha256.Sum256([]byte("sparc/oruk/" + part))
	var m [16]byte
	copy(m[:], h[:16])
	m[6] &= 0x0f // keep the version nibble
	m[8] &= 0x3f // keep the variant bits
	masks.Store(part, m)
	return m
}

// Parts of an asset's record, for derivedID.
const (
	partLocation          = "location"
	partServiceAtLocation = "service_at_location"
	partAddress           = "address"
	partContact           = "contact"
	partPhone             = "phone"
	partCostOption        = "cost_option"
	partServiceArea       = "service_area"
)

// Taxonomies SPARC publishes. Their terms are what assets carry.
const (
	TaxCategories = "sparc-categories"
	TaxKinds      = "abcd-asset-kinds"
	TaxAttributes = "sparc-service-attributes"
)

// Terms of the service attributes taxonomy: values SPARC keeps that ORUK
// has no field for, carried as attributes with a value (HSDS 3.0).
const (
	AttrAcceptingReferrals = "accepting_referrals"
	AttrCapacity           = "capacity"
	AttrTimezone           = "timezone"
	AttrDeliveryMode       = "delivery_mode"
)

// taxonomyDef is one published taxonomy with its terms.
type taxonomyDef struct {
	code, name, description string
	terms                   []termDef
}

type termDef struct {
	code, name, description string
}

var kindTerms = []struct {
	kind sparcv1.AssetKind
	term termDef
}{
	{sparcv1.AssetKind_ASSET_KIND_INDIVIDUAL, termDef{"individual", "Individuals", "Skills and gifts of local people (a retired joiner who teaches)."}},
	{sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, termDef{"association", "Associations", "Groups of citizens: clubs, choirs, walking groups, faith groups."}},
	{sparcv1.AssetKind_ASSET_KIND_INSTITUTION, termDef{"institution", "Institutions", "Schools, libraries, GP practices, councils, charities with staff."}},
	{sparcv1.AssetKind_ASSET_KIND_PHYSICAL_SPACE, termDef{"physical_space", "Physical spaces", "Parks, allotments, community centres, halls."}},
	{sparcv1.AssetKind_ASSET_KIND_LOCAL_ECONOMY, termDef{"local_economy", "Local economy", "Local businesses, markets, social enterprises, co-operatives."}},
	{sparcv1.AssetKind_ASSET_KIND_CULTURE, termDef{"culture", "Culture", "Culture, heritage and the stories of a place."}},
}

// KindOfTerm is the asset kind a term of the kinds taxonomy stands for.
func KindOfTerm(code string) (sparcv1.AssetKind, bool) {
	for _, kt := range kindTerms {
		if kt.term.code == code {
			return kt.kind, true
		}
	}
	return sparcv1.AssetKind_ASSET_KIND_UNSPECIFIED, false
}

var taxonomies = func() []taxonomyDef {
	cats := taxonomyDef{code: TaxCategories, name: "SPARC categories",
		description: "What a community asset offers, SPARC's controlled vocabulary shared with referral reasons."}
	for _, t := range vocab.Categories {
		cats.terms = append(cats.terms, termDef{t.Code, t.LabelEN, t.LabelEN + " (Dutch: " + t.LabelNL + ")"})
	}
	kinds := taxonomyDef{code: TaxKinds, name: "ABCD asset kinds",
		description: "The six asset types of asset-based community development."}
	for _, k := range kindTerms {
		kinds.terms = append(kinds.terms, k.term)
	}
	attrs := taxonomyDef{code: TaxAttributes, name: "SPARC service attributes",
		description: "Facts about a service that ORUK has no field for; the attribute's value holds the fact.",
		terms: []termDef{
			{AttrAcceptingReferrals, "Accepting referrals", "Whether the service accepts referrals from social prescribing link workers (value true or false)."},
			{AttrCapacity, "Capacity", "Places per session (value: a whole number)."},
			{AttrTimezone, "Time zone", "IANA time zone of the schedules' local times when not the country's usual one."},
			{AttrDeliveryMode, "Delivery mode", "How a service without a physical location reaches people (value telephone, online or home_visit); its service_areas say where."},
		}}
	return []taxonomyDef{cats, kinds, attrs}
}()

func taxonomyID(code string) uuid.UUID {
	return uuid.NewSHA1(Namespace, []byte("taxonomy/"+code))
}

func termID(taxonomy, code string) uuid.UUID {
	return uuid.NewSHA1(Namespace, []byte("taxonomy_term/"+taxonomy+"/"+code))
}

// termLookup finds a published term by id.
var termByID = func() map[uuid.UUID]struct {
	tax  taxonomyDef
	term termDef
} {
	m := map[uuid.UUID]struct {
		tax  taxonomyDef
		term termDef
	}{}
	for _, tx := range taxonomies {
		for _, t := range tx.terms {
			m[termID(tx.code, t.code)] = struct {
				tax  taxonomyDef
				term termDef
			}{tx, t}
		}
	}
	return m
}()

func (tx taxonomyDef) toORUK(withTerms bool) Taxonomy {
	out := Taxonomy{ID: taxonomyID(tx.code).String(), Name: tx.name, Description: tx.description, Version: "1"}
	if withTerms {
		for _, t := range tx.terms {
			out.TaxonomyTerms = append(out.TaxonomyTerms, tx.term(t))
		}
	}
	return out
}

func (tx taxonomyDef) term(t termDef) TaxonomyTerm {
	return TaxonomyTerm{ID: termID(tx.code, t.code).String(), Name: t.name, Description: t.description,
		Taxonomy: tx.name, TaxonomyID: taxonomyID(tx.code).String(), Term: t.code}
}

// termsByCode holds every published term, built once (ids are hashes).
var termsByCode = func() map[string]TaxonomyTerm {
	m := map[string]TaxonomyTerm{}
	for _, tx := range taxonomies {
		for _, t := range tx.terms {
			m[tx.code+"/"+t.code] = tx.term(t)
		}
	}
	return m
}()

func termOf(taxCode, code string) TaxonomyTerm {
	t, ok := termsByCode[taxCode+"/"+code]
	if !ok {
		panic("unknown term " + taxCode + "/" + code)
	}
	return t
}

// matchTerm finds which SPARC term an imported taxonomy term stands for:
// by our term id, else by code or English label within a taxonomy whose
// name is ours or absent. ok is false for terms of other taxonomies.
func MatchTerm(t *TaxonomyTerm, termIDStr string) (taxCode, code string, ok bool) {
	ids := []string{termIDStr}
	if t != nil {
		ids = append(ids, t.ID)
	}
	for _, s := range ids {
		if id, err := uuid.Parse(s); err == nil {
			if hit, found := termByID[id]; found {
				return hit.tax.code, hit.term.code, true
			}
		}
	}
	if t == nil {
		return "", "", false
	}
	for _, tx := range taxonomies {
		if t.Taxonomy != "" && !strings.EqualFold(t.Taxonomy, tx.name) && !strings.EqualFold(t.Taxonomy, tx.code) {
			continue
		}
		for _, d := range tx.terms {
			if strings.EqualFold(t.Term, d.code) || (t.Taxonomy != "" && strings.EqualFold(t.Name, d.name)) {
				return tx.code, d.code, true
			}
		}
	}
	return "", "", false
}
