package assets

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/sparc-network/sparc/internal/vocab"
)

// Limits of a text query's words.
const (
	// maxQueryWords: every word is one more OR of three index scans, and
	// a query of more words than this finds nothing anyway (all must
	// match).
	maxQueryWords = 10
	// minPrefixLen: shorter words are matched by the stemmed full-text
	// prefix only. From three letters the trigram index narrows a word
	// start ("'gar") to few rows.
	minPrefixLen = 3
	// minPartLen: a part of a Dutch compound is looked for inside words
	// from four letters on ("koor", "tuin", "zorg"); a three-letter part
	// finds too much ("eet" in "weet", "les" in "alles").
	minPartLen = 4
	// minLabelLen: a word finds the categories whose label has a word
	// starting with it from three letters on.
	minLabelLen = 3
)

// Text is a validated free-text query: its words, each of which must
// match an asset (see textSQL).
type Text struct {
	Words []Word
}

// Word is one word of a text query, lower case and unaccented, with the
// categories whose English or Dutch label it matches.
type Word struct {
	Folded     string
	Categories []string
}

// TextProblem says why ParseText found nothing to search for ("" when it
// did).
type TextProblem string

// ParseText reads free text as the search matches it: runs of letters and
// digits, lower case and unaccented, without the common words of English
// and Dutch. Every listing is searched in both languages, so a word that
// is common in one of them ("the", "de", "van") would match half the
// directory by prefix; it is left out, as full-text search leaves out the
// common words of its own language. Only letters and digits pass, so the
// words can never carry tsquery operators or LIKE wildcards.
func ParseText(s string) (Text, TextProblem) {
	var t Text
	words := strings.FieldsFunc(fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	seen := map[string]bool{}
	for _, w := range words {
		if stopword[w] || seen[w] {
			continue
		}
		seen[w] = true
		t.Words = append(t.Words, Word{Folded: w, Categories: labelCategories(w)})
	}
	switch {
	case len(words) == 0:
		return t, "has no words to search for"
	case len(t.Words) == 0:
		return t, "has only common words (such as \"the\" or \"de\") to search for"
	case len(t.Words) > maxQueryWords:
		return t, TextProblem("has more than " + itoa(maxQueryWords) + " words to search for")
	}
	return t, ""
}

// fold lower-cases s and takes the accents off its letters, as the
// sparc_words configuration (unaccent) does to the listings: "Café" →
// "cafe". A letter unaccent spells otherwise and Go does not decompose
// only misses a match; it cannot let anything through.
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if x, ok := ligature[r]; ok {
			b.WriteString(x)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ligature spells the letters that do not decompose as unaccent does.
var ligature = map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ĳ': "ij"}

// labelCategories returns the categories whose English or Dutch label has
// a word starting with w. Not inside label words: the labels are few and
// short, and a part finds the wrong one ("taal" is inside "Mentaal").
func labelCategories(w string) []string {
	if utf8.RuneCountInString(w) < minLabelLen {
		return nil
	}
	var out []string
	for _, c := range categoryLabels {
		if c.matches(w) {
			out = append(out, c.code)
		}
	}
	return out
}

type labelWords struct {
	code  string
	words []string // of the English and the Dutch label
}

func (c labelWords) matches(w string) bool {
	for _, l := range c.words {
		if strings.HasPrefix(l, w) {
			return true
		}
	}
	return false
}

// categoryLabels are the words of the category labels (vocab), folded,
// without the common ones ("and", "en", "bij").
var categoryLabels = func() []labelWords {
	split := func(s string) []string {
		var out []string
		for _, w := range strings.FieldsFunc(fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if !stopword[w] {
				out = append(out, w)
			}
		}
		return out
	}
	out := make([]labelWords, len(vocab.Categories))
	for i, t := range vocab.Categories {
		out[i] = labelWords{code: t.Code, words: append(split(t.LabelEN), split(t.LabelNL)...)}
	}
	return out
}()

// stopword holds the English and Dutch stop words of PostgreSQL's
// full-text search (its english.stop and dutch.stop, from the Snowball
// project, BSD licence), the words sparc_en and sparc_nl leave out.
var stopword = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(englishStop + " " + dutchStop) {
		m[w] = true
	}
	return m
}()

const englishStop = `i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing a an the and but if or because as until while of
at by for with about against between into through during before after above below to from up down in out on
off over under again further then once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don should now`

const dutchStop = `de en van ik te dat die in een hij het niet zijn is was op aan met als voor had er maar om hem dan zou of wat
mijn men dit zo door over ze zich bij ook tot je mij uit der daar haar naar heb hoe heeft hebben deze u want
nog zal me zij nu ge geen omdat iets worden toch al waren veel meer doen toen moet ben zonder kan hun dus
alles onder ja eens hier wie werd altijd doch wordt wezen kunnen ons zelf tegen na reeds wil kon niets uw
iemand geweest andere`

// textSQL returns the predicate that t matches the asset, and the rank of
// a match (text searches without a point are ordered by it). t matches
//   - by full text, as before: every word a stemmed prefix in English or
//     Dutch (search_doc): "walk" finds "walking";
//   - or with every word matching in one of these ways:
//   - the start of a word as written (search_words, from three letters):
//     "gardeni" finds "gardening", whose stem is 'garden';
//   - inside a word of a Dutch listing (from four letters): "koor" finds
//     "Buurtkoor". Only Dutch: English writes compounds apart, and inside
//     its words "sing" would find "housing";
//   - a category label (English or Dutch) of the asset: "bewegen".
//
// The word-by-word matches use the trigram index on search_words and the
// GIN index on categories, and the full-text match one GIN scan of
// search_doc for the whole query, as before: a scan per word there costs
// more than the trigram scans together (a common word's prefix lists many
// lexemes). What this leaves out: a query mixing a word found only by its
// stem ("walks" for "walking") with one found only inside a compound or by
// label. In a point search the predicate filters the rows the KNN scan
// walks.
//
// Full-text matches rank first: rank is 1 when the whole query matches as
// full text, plus its ts_rank over any of the words (below 1), so within
// each group more and better-placed words come first.
func textSQL(t *Text, p *args) (where, rank string) {
	var and, or, conds []string
	// Word by word only when every word can match so (a word of one or two
	// letters matches only as full text); no parameter may go unused.
	wordByWord := true
	for _, w := range t.Words {
		and, or = append(and, w.Folded+":*"), append(or, w.Folded+":*")
		if utf8.RuneCountInString(w.Folded) < minPrefixLen && len(w.Categories) == 0 {
			wordByWord = false
		}
	}
	for _, w := range t.Words {
		if !wordByWord {
			break
		}
		var c []string
		n := utf8.RuneCountInString(w.Folded)
		switch {
		case n >= minPartLen:
			// One trigram index scan for both: a word containing it, which
			// is enough in Dutch and must be its start elsewhere.
			c = append(c, "(a.search_words LIKE "+p.add("%"+w.Folded+"%")+
				" AND (a.country = 'NL' OR a.search_words LIKE "+p.add("%'"+w.Folded+"%")+"))")
		case n >= minPrefixLen:
			c = append(c, "a.search_words LIKE "+p.add("%'"+w.Folded+"%"))
		}
		if len(w.Categories) > 0 {
			c = append(c, "a.categories && "+p.add(w.Categories)+"::text[]")
		}
		conds = append(conds, "("+strings.Join(c, " OR ")+")")
	}
	all := tsqueryOnce(p.add(strings.Join(and, " & ")))
	anyWord := tsqueryOnce(p.add(strings.Join(or, " | ")))
	rank = "((a.search_doc @@ " + all + ")::int + ts_rank(a.search_doc, " + anyWord + "))::real"
	where = "a.search_doc @@ " + all
	if conds != nil {
		where = "(" + where + " OR (" + strings.Join(conds, " AND ") + "))"
	}
	return where, rank
}

// tsqueryOnce is tsquerySQL computed once per statement: an uncorrelated
// scalar subquery, which PostgreSQL runs once (an InitPlan) and whose
// value the index scans take as their key. Written inline, to_tsquery of
// a parameter is evaluated again for every row the scan returns, for the
// filter and for the rank, in both configurations, as soon as the
// prepared statement runs a generic plan (pgx prepares every statement):
// that parsing and stemming was most of a text search's time (measured:
// 2.4 times the PostgreSQL CPU of the search before compound matching,
// which also evaluates it per row, but half as often).
func tsqueryOnce(tq string) string {
	return "(SELECT " + tsquerySQL(tq) + ")"
}
