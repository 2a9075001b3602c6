package oruk

import (
	"testing"

	"github.com/google/uuid"
)

func TestDerivedIDsAreValidDistinctAndInvertible(t *testing.T) {
	parts := []string{partLocation, partServiceAtLocation, partAddress, partContact, partPhone, partCostOption,
		partServiceArea, "schedule/0", "schedule/1", "language/en", "accessibility/hearing_loop"}
	for _, asset := range []uuid.UUID{uuid.New(), uuid.NewSHA1(Namespace, []byte("x")), uuid.MustParse("ac148810-d857-441c-9679-408f346de14b")} {
		seen := map[uuid.UUID]string{asset: "asset"}
		for _, p := range parts {
			id := derivedID(asset, p)
			if id.Version() != asset.Version() || id.Variant() != asset.Variant() {
				t.Errorf("%s of %s: version %d variant %v, want %d %v", p, asset, id.Version(), id.Variant(), asset.Version(), asset.Variant())
			}
			if other, dup := seen[id]; dup {
				t.Errorf("%s and %s of %s share id %s", p, other, asset, id)
			}
			seen[id] = p
			if back := assetOf(id, p); back != asset {
				t.Errorf("assetOf(%s, %s) = %s, want %s", id, p, back, asset)
			}
		}
	}
}
