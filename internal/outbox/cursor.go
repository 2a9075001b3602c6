package outbox

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Cursor is a position in the stream of changes: the transaction that
// made a change and its sequence number. Changes are read in cursor order.
type Cursor struct {
	TxID uint64
	Seq  int64
}

// String is the cursor as clients hold it (opaque to them).
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(c.TxID, 10) + ":" + strconv.FormatInt(c.Seq, 10)))
}

// ParseCursor reads a cursor made by String.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, err
	}
	a, bs, ok := strings.Cut(string(b), ":")
	if !ok {
		return Cursor{}, errors.New("malformed")
	}
	var c Cursor
	if c.TxID, err = strconv.ParseUint(a, 10, 64); err != nil {
		return Cursor{}, err
	}
	if c.Seq, err = strconv.ParseInt(bs, 10, 64); err != nil {
		return Cursor{}, err
	}
	return c, nil
}
