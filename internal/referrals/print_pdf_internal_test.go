package referrals

import (
	"net/http/httptest"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// pdfText keeps what Windows-1252 holds and turns the rest into what the
// core fonts can print: nothing for pictures and invisible controls, the
// base letter for accents outside the code page, "?" for other scripts.
func TestPDFText(t *testing.T) {
	for in, want := range map[string]string{
		"Café Één ëë £3 €2 – “quoted” …": "Café Één ëë £3 €2 – “quoted” …",
		"Cafe\u0301":                     "Café", // combining accent, composed
		"Łódź Kraków Dvořák Ő":           "?ódz Kraków Dvorák O",
		"ﬁne ① ½":                        "fine 1 ½",
		"walk 🌳🏳️‍🌈 1️⃣ together":        "walk 1 together",
		"\u202egnikaw\u202c \u200bzero":  "gnikaw zero",
		"مشي 中文":                         "??? ??",
		"line\nbreak\ttab\r\x01\x7f end": "line break tab end",
		"a \u00a0 b\u2003c − d":          "a \u00a0 b c - d",
		"\ufffd bad":                     "bad",
	} {
		b := pdfText(in)
		got, err := charmap.Windows1252.NewDecoder().String(b)
		if err != nil || got != want {
			t.Errorf("pdfText(%q) = %q, want %q (%v)", in, got, want, err)
		}
	}
}

// ?format= decides; else Accept's preference of HTML and PDF; else HTML.
func TestPrintFormat(t *testing.T) {
	for _, tc := range []struct{ query, accept, want string }{
		{"", "", "html"},
		{"?format=pdf", "text/html", "pdf"},
		{"?format=html", "application/pdf", "html"},
		{"", "application/pdf", "pdf"},
		{"", "APPLICATION/PDF; Q=0.9, text/html;q=0.8", "pdf"},
		{"", "text/html, application/pdf", "html"},
		{"", "text/html;q=0.1, application/pdf;q=0.2", "pdf"},
		{"", "application/pdf;q=0", "html"},
		{"", "application/pdf;q=bad, text/html;q=0.1", "html"},
		{"", "*/*", "html"},
		{"?format=docx", "", ""},
	} {
		r := httptest.NewRequest("GET", "/v1/referrals/x/print"+tc.query, nil)
		r.Header.Set("Accept", tc.accept)
		got, ok := printFormat(r)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("%s Accept %q: %q, want %q", tc.query, tc.accept, got, tc.want)
		}
	}
}
