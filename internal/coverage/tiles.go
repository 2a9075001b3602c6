package coverage

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
)

const (
	maxZoom = 22
	// webOrigin is half the width of the Web Mercator world in metres.
	webOrigin = 20037508.342789244
	// fingerprintTTL is how often the data fingerprint behind tile ETags
	// (and cached coverage) is re-read, in the background.
	fingerprintTTL = time.Second
	// maxCachedCoverages bounds the coverage results kept for tiles.
	maxCachedCoverages = 16
	// renderedTileBytes bounds the rendered tile cache.
	renderedTileBytes = 64 << 20
	tileCacheControl  = "public, max-age=60"
	mvtContentType    = "application/vnd.mapbox-vector-tile"
)

// clusterMaxZoom is the highest zoom at which asset tiles merge nearby
// assets.
const clusterMaxZoom = 11

// tileCache keeps the data fingerprint (briefly) and whole coverage
// results per query, so a tile needs one small query, not a computation.
type tileCache struct {
	store *Store

	mu         sync.Mutex
	fp         string
	fpAt       time.Time
	refreshing bool
	coverages  map[string]*cachedCoverage
	order      []string // oldest first, for eviction
}

type cachedCoverage struct {
	fp   string
	done chan struct{}
	res  *Result
	err  error
}

func newTileCache(store *Store) *tileCache {
	return &tileCache{store: store, coverages: map[string]*cachedCoverage{}}
}

// fingerprint returns the data fingerprint. While tiles are being asked
// for it is refreshed in the background, at most once per fingerprintTTL,
// so no tile request waits for it and a change shows within about two
// TTLs; after a quiet spell (5 TTLs) the next request reads it afresh.
func (c *tileCache) fingerprint(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.fp != "" && time.Since(c.fpAt) < 5*fingerprintTTL {
		fp := c.fp
		if time.Since(c.fpAt) >= fingerprintTTL && !c.refreshing {
			c.refreshing = true
			go c.refresh()
		}
		c.mu.Unlock()
		return fp, nil
	}
	c.mu.Unlock()
	fp, err := c.readFingerprint(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.fp, c.fpAt = fp, time.Now()
	c.mu.Unlock()
	return fp, nil
}

func (c *tileCache) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fp, err := c.readFingerprint(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err == nil { // on error keep the old one; the next request retries
		c.fp, c.fpAt = fp, time.Now()
	}
}

func (c *tileCache) readFingerprint(ctx context.Context) (string, error) {
	return c.store.fingerprint(ctx)
}

// coverage returns the result of q for data fingerprint fp, computing it
// once however many tiles ask at the same time.
func (c *tileCache) coverage(ctx context.Context, svc *Service, q Query, fp string) (*Result, error) {
	key := q.key()
	c.mu.Lock()
	e, ok := c.coverages[key]
	if !ok || e.fp != fp || (isDone(e.done) && e.err != nil) {
		e = &cachedCoverage{fp: fp, done: make(chan struct{})}
		if !ok {
			c.order = append(c.order, key)
			if len(c.order) > maxCachedCoverages {
				delete(c.coverages, c.order[0])
				c.order = c.order[1:]
			}
		}
		c.coverages[key] = e
		c.mu.Unlock()
		// Computed without the requester's cancellation: other tiles wait
		// for the same answer.
		e.res, e.err = svc.Compute(context.WithoutCancel(ctx), q)
		close(e.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.res, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// tileCoords reads and checks {z}/{x}/{y}.mvt.
func tileCoords(r *http.Request) (z, x, y int, err error) {
	var v apierr.InvalidArgument
	ys, ok := strings.CutSuffix(r.PathValue("y"), ".mvt")
	if !ok {
		v.Add("y", "tile paths end in .mvt: /tiles/<layer>/{z}/{x}/{y}.mvt")
	}
	z, zerr := strconv.Atoi(r.PathValue("z"))
	x, xerr := strconv.Atoi(r.PathValue("x"))
	y, yerr := strconv.Atoi(ys)
	switch {
	case zerr != nil || z < 0 || z > maxZoom:
		v.Add("z", "must be a zoom level from 0 to %d", maxZoom)
	case xerr != nil || x < 0 || x >= 1<<z:
		v.Add("x", "must be from 0 to %d at zoom %d", (1<<z)-1, z)
	case ok && (yerr != nil || y < 0 || y >= 1<<z):
		v.Add("y", "must be from 0 to %d at zoom %d", (1<<z)-1, z)
	}
	return z, x, y, v.Err()
}

// tileBounds is the Web Mercator box of a tile.
func tileBounds(z, x, y int) [4]float64 {
	size := 2 * webOrigin / float64(int64(1)<<z)
	return [4]float64{-webOrigin + float64(x)*size, webOrigin - float64(y+1)*size,
		-webOrigin + float64(x+1)*size, webOrigin - float64(y)*size}
}

// notModified sets the caching headers and answers 304 when the client
// already has this version of the tile. The ETag names the tile's content
// (data fingerprint, query, tile), so it also keys the rendered tile cache.
func notModified(w http.ResponseWriter, r *http.Request, parts ...string) (string, bool) {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", tileCacheControl)
	for _, m := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if m = strings.TrimSpace(m); m == etag || m == "W/"+etag || m == "*" {
			w.WriteHeader(http.StatusNotModified)
			return etag, true
		}
	}
	return etag, false
}

// renderedTiles keeps recently rendered tiles by ETag, least recently used
// out first, within a byte budget: a map's pan and zoom ask for the same
// tiles again, and its visitors for the same places.
type renderedTiles struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[string]*list.Element
	order *list.List // front = most recent
}

type renderedTile struct {
	etag string
	tile []byte
}

func newRenderedTiles(maxBytes int) *renderedTiles {
	return &renderedTiles{max: maxBytes, items: map[string]*list.Element{}, order: list.New()}
}

func (c *renderedTiles) get(etag string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[etag]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*renderedTile).tile, true
}

func (c *renderedTiles) put(etag string, tile []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[etag]; ok || len(tile) > c.max {
		return
	}
	c.items[etag] = c.order.PushFront(&renderedTile{etag: etag, tile: tile})
	c.size += len(tile)
	for c.size > c.max {
		old := c.order.Back()
		rt := old.Value.(*renderedTile)
		c.order.Remove(old)
		delete(c.items, rt.etag)
		c.size -= len(rt.tile)
	}
}

func writeTile(w http.ResponseWriter, tile []byte) {
	w.Header().Set("Content-Type", mvtContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(tile)))
	_, _ = w.Write(tile)
}

// assetTile serves /tiles/assets/{z}/{x}/{y}.mvt: layer "assets", points
// with id, name, kind and categories (comma-separated).
func (h *HTTP) assetTile(w http.ResponseWriter, r *http.Request) {
	z, x, y, err := tileCoords(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	fp, err := h.tiles.fingerprint(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	etag, done := notModified(w, r, "assets", fp, r.PathValue("z"), r.PathValue("x"), r.PathValue("y"))
	if done {
		return
	}
	if tile, ok := h.rendered.get(etag); ok {
		writeTile(w, tile)
		return
	}
	tile, err := h.svc.store.assets.PointsTile(r.Context(), z, x, y, clusterMaxZoom)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.rendered.put(etag, tile)
	writeTile(w, tile)
}

// coverageTile serves /tiles/coverage/{z}/{x}/{y}.mvt?kind=…: layer
// "coverage", area polygons with code, display_name, coverage_score,
// assets_inside, assets_within_walk, deprivation_decile and
// weekly_places_per_1000. The query parameters are those of
// ComputeCoverage; the whole area set is computed once per data version
// and cached, and each tile draws the areas that touch it.
func (h *HTTP) coverageTile(w http.ResponseWriter, r *http.Request) {
	z, x, y, err := tileCoords(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q.SummaryOnly = false
	fp, err := h.tiles.fingerprint(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	etag, done := notModified(w, r, "coverage", fp, q.key(), r.PathValue("z"), r.PathValue("x"), r.PathValue("y"))
	if done {
		return
	}
	if tile, ok := h.rendered.get(etag); ok {
		writeTile(w, tile)
		return
	}
	res, err := h.tiles.coverage(r.Context(), h.svc, q, fp)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	b := tileBounds(z, x, y)
	pad := (b[2] - b[0]) * 64 / 4096
	var f areas.Figures
	for _, a := range res.Areas {
		if a.Web[0] > b[2]+pad || a.Web[2] < b[0]-pad || a.Web[1] > b[3]+pad || a.Web[3] < b[1]-pad {
			continue
		}
		s := score(a, q.WalkMeters)
		f.Codes = append(f.Codes, a.Code)
		f.Scores = append(f.Scores, &s)
		f.Inside = append(f.Inside, a.Inside)
		f.Within = append(f.Within, a.Within)
		f.Deciles = append(f.Deciles, a.Decile)
		f.Places = append(f.Places, rate(a.Places, a.Population))
	}
	var tile []byte
	if len(f.Codes) > 0 {
		if tile, err = h.svc.store.areas.FiguresTile(r.Context(), z, x, y, f); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	h.rendered.put(etag, tile)
	writeTile(w, tile)
}
