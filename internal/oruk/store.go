package oruk

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
)

// store reads the directory for ORUK through the asset store, which owns
// the SQL (assets.Listing); it adds the cached total of the plain list.
type store struct {
	assets *assets.Store
	totals countCache
}

// filter is a validated ORUK list query over assets.
type filter = assets.Listing

// countCache keeps the total of the unfiltered list for a moment: a
// validator or importer pages through every service in quick succession,
// and counting the whole table for each page would cost more than the
// page itself. Filtered totals are always counted. A total may lag a
// write by countTTL, no more than the pages themselves can (ORUK paging is
// by offset, not a snapshot).
type countCache struct {
	mu      sync.Mutex
	total   int
	expires time.Time
}

const countTTL = 2 * time.Second

func (c *countCache) get(f filter) (int, bool) {
	if !f.Unfiltered() {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, time.Now().Before(c.expires)
}

func (c *countCache) put(f filter, total int) {
	if !f.Unfiltered() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total, c.expires = total, time.Now().Add(countTTL)
}

// list returns one page of assets, their owners' public fields and the
// total number matching. The count runs on its own connection while the
// page is read: a proximity count visits every asset in the circle, the
// page only its first rows, so a request takes the longer of the two, not
// the sum.
func (s *store) list(ctx context.Context, f filter) ([]*sparcv1.Asset, Orgs, int, error) {
	total, haveCount := s.totals.get(f)
	countDone := make(chan error, 1)
	if haveCount {
		countDone <- nil
	} else {
		go func() {
			var err error
			total, err = s.assets.ListingCount(ctx, f)
			countDone <- err
		}()
	}
	list, owners, pageErr := s.assets.ListingPage(ctx, f)
	if err := <-countDone; err != nil {
		return nil, nil, 0, err
	}
	if pageErr != nil {
		return nil, nil, 0, pageErr
	}
	if !haveCount {
		s.totals.put(f, total)
	}
	orgs := make(Orgs, len(owners))
	for id, o := range owners {
		orgs[id] = OrgInfo{Name: o.Name, Website: o.Website}
	}
	return list, orgs, total, nil
}

// orgRow is an organisation as ORUK shows it.
type orgRow struct {
	id string
	OrgInfo
}

// owningOrgs returns the organisations that own at least one asset, by
// name; one id (owning assets or not) when only is set.
func (s *store) owningOrgs(ctx context.Context, only *uuid.UUID) ([]orgRow, error) {
	if only != nil {
		o, ok, err := s.assets.OwnerOf(ctx, *only)
		if err != nil || !ok {
			return nil, err
		}
		return []orgRow{{id: o.ID, OrgInfo: OrgInfo{Name: o.Name, Website: o.Website}}}, nil
	}
	owners, err := s.assets.Owners(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]orgRow, len(owners))
	for i, o := range owners {
		out[i] = orgRow{id: o.ID, OrgInfo: OrgInfo{Name: o.Name, Website: o.Website}}
	}
	return out, nil
}

// assetWithOrg reads one asset and its owner's public fields.
func (s *store) assetWithOrg(ctx context.Context, id uuid.UUID) (*sparcv1.Asset, Orgs, error) {
	list, err := s.assets.GetMany(ctx, []uuid.UUID{id})
	if err != nil || len(list) == 0 {
		return nil, nil, err
	}
	a := list[0]
	orgs := Orgs{}
	if owner := assets.OwnerID(a); owner != "" {
		o, ok, err := s.assets.OwnerOf(ctx, uuid.MustParse(owner))
		if err != nil {
			return nil, nil, err
		}
		if ok {
			orgs[owner] = OrgInfo{Name: o.Name, Website: o.Website}
		}
	}
	return a, orgs, nil
}
