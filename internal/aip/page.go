package aip

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

// PageRequest is any List or Search request (AIP-158).
type PageRequest interface {
	proto.Message
	GetPageSize() int32
	GetPageToken() string
}

// Page is one page of a list call: how many rows to return and, after the
// first page, the keyset position C of the last row of the page before.
type Page[C any] struct {
	// Size is the number of rows to return. Stores fetch Size+1 rows so
	// Next knows whether another page follows.
	Size int
	// After is nil on the first page.
	After *C

	tokens *pagetoken.Signer
	query  []byte
}

// StartPage reads req's page size (def when unset, at most max) and page
// token, which must come from the same query: a bad token is a violation
// on v under "page_token".
func StartPage[C any](v *apierr.InvalidArgument, tokens *pagetoken.Signer, req PageRequest, def, max int) *Page[C] {
	p := &Page[C]{tokens: tokens, Size: pagetoken.Size(req.GetPageSize(), def, max, v)}
	p.query = pagetoken.QueryHash(req, clearPaging)
	p.After = pagetoken.After[C](tokens, req.GetPageToken(), p.query, v)
	return p
}

// clearPaging resets the paging fields of a copy of the request before it
// is hashed, found by their AIP-158 names on any request type.
func clearPaging(m PageRequest) {
	r := m.ProtoReflect()
	for _, name := range []protoreflect.Name{"page_size", "page_token"} {
		if fd := r.Descriptor().Fields().ByName(name); fd != nil {
			r.Clear(fd)
		}
	}
}

// Next trims the Size+1 rows a store returned to the page and returns the
// token of the page after it ("" on the last page). position gives the
// keyset position of a row.
func Next[C, T any](p *Page[C], rows []T, position func(T) C) ([]T, string, error) {
	if len(rows) <= p.Size {
		return rows, "", nil
	}
	rows = rows[:p.Size]
	token, err := p.tokens.Encode(p.query, position(rows[len(rows)-1]))
	return rows, token, err
}
