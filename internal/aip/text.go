package aip

import (
	"strings"
	"unicode/utf8"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Text checks a free-text field against its limit in characters (not
// bytes: a Dutch or Welsh name must not count double). A required field
// that is empty or only white space is a violation too. The edge has
// already refused NUL and invalid UTF-8 in every string of every request.
func Text(v *apierr.InvalidArgument, field, s string, required bool, max int) {
	switch n := utf8.RuneCountInString(s); {
	case required && strings.TrimSpace(s) == "":
		v.Add(field, "is required")
	case n > max:
		v.Add(field, "is %d characters, more than the maximum of %d", n, max)
	}
}
