package jsonfast

import (
	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The lookups a search page makes beside the search: the vocabulary (its
// labels) and a postcode's point. Small, but asked for on every page.

var (
	vocabularyNames    = namesOf(sparcv1.Vocabulary(0).Descriptor())
	postcodeMatchNames = namesOf(sparcv1.PostcodeMatch(0).Descriptor())
)

func (e *enc) listVocabularyResponse(b []byte, m *sparcv1.ListVocabularyResponse) []byte {
	b = append(b, `{"terms":[`...)
	for i, t := range m.Terms {
		if t == nil {
			e.refused = true
			return b
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = e.str(b, t.Code)
		b = append(b, `,"label_en":`...)
		b = e.str(b, t.LabelEn)
		b = append(b, `,"label_nl":`...)
		b = e.str(b, t.LabelNl)
		b = append(b, `,"vocabulary":`...)
		b = appendEnum(b, vocabularyNames, int32(t.Vocabulary))
		b = append(b, '}')
	}
	b = append(b, `],"next_page_token":`...)
	b = e.str(b, m.NextPageToken)
	return append(b, '}')
}

func (e *enc) postcode(b []byte, m *sparcv1.Postcode) []byte {
	b = append(b, `{"name":`...)
	b = e.str(b, m.Name)
	b = append(b, `,"postcode":`...)
	b = e.str(b, m.Postcode)
	b = append(b, `,"country":`...)
	b = e.str(b, m.Country)
	b = append(b, `,"latitude":`...)
	b = appendDouble(b, m.Latitude)
	b = append(b, `,"longitude":`...)
	b = appendDouble(b, m.Longitude)
	b = append(b, `,"lsoa_code":`...)
	b = e.str(b, m.LsoaCode)
	b = append(b, `,"council_code":`...)
	b = e.str(b, m.CouncilCode)
	b = append(b, `,"approximate":`...)
	b = appendBool(b, m.Approximate)
	b = append(b, `,"matched":`...)
	b = appendEnum(b, postcodeMatchNames, int32(m.Matched))
	b = append(b, `,"attribution":`...)
	b = e.str(b, m.Attribution)
	return append(b, '}')
}
