// Package etag names one version of one stored record, the etag every
// resource of the API carries. It covers the update time besides the
// version counter, so a record deleted and created again under the same
// id never matches an etag of its earlier life.
package etag

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Of returns the etag of record id at version, last updated at updated.
func Of(id uuid.UUID, version int64, updated time.Time) string {
	h := sha256.Sum256([]byte(id.String() + "/" + strconv.FormatInt(version, 10) + "/" + strconv.FormatInt(updated.UnixMicro(), 10)))
	return hex.EncodeToString(h[:8])
}
