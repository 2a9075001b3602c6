package postcodes

import (
	"testing"
	"time"
)

// The cache keeps at most its size, dropping the least recently used;
// entries expire; a lookup that raced a flush is not kept; nothing is
// kept or served while not live.
func TestPlaceCacheIsBoundedAndExpires(t *testing.T) {
	now := time.Unix(0, 0)
	c := newPlaceCache(2, time.Minute)
	c.now = func() time.Time { return now }
	code := func(k string) Code { return Code{Country: GB, Key: k} }
	put := func(k string) {
		_, _, gen := c.get(code(k))
		c.put(Place{Code: code(k)}, gen)
	}
	has := func(k string) bool { _, ok, _ := c.get(code(k)); return ok }

	put("A1 1AA")
	if has("A1 1AA") {
		t.Fatal("kept while not live")
	}
	c.flush(true)
	put("A1 1AA")
	put("B1 1BB")
	if !has("A1 1AA") { // now the most recently used
		t.Fatal("A1 1AA not kept")
	}
	put("C1 1CC")
	if has("B1 1BB") || !has("A1 1AA") || !has("C1 1CC") {
		t.Fatal("not the least recently used dropped")
	}
	_, _, gen := c.get(code("D1 1DD"))
	c.drop() // an import committed during the lookup
	c.put(Place{Code: code("D1 1DD")}, gen)
	if has("D1 1DD") || has("A1 1AA") {
		t.Fatal("a lookup older than the import kept, or the import did not drop")
	}
	put("E1 1EE")
	now = now.Add(2 * time.Minute)
	if has("E1 1EE") {
		t.Fatal("an expired place served")
	}
	put("F1 1FF")
	c.flush(false)
	if has("F1 1FF") {
		t.Fatal("served while not live")
	}
}
