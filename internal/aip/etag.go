package aip

import "github.com/sparc-network/sparc/internal/apierr"

// CheckEtag reports an etag that this API cannot have made. Empty is
// accepted: the etag is optional on every write (AIP-154), and without it
// the write applies to the current version. Whether a well-formed etag is
// still current is the store's question, answered with ABORTED.
func CheckEtag(v *apierr.InvalidArgument, field, etag string) {
	if etag == "" {
		return
	}
	ok := len(etag) == 16
	for i := 0; ok && i < len(etag); i++ {
		c := etag[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
	}
	if !ok {
		v.Add(field, "%q is not an etag returned by this API", apierr.Clip(etag, 80))
	}
}
