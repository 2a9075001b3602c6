package areas

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// areaAtSQL finds the area of kind $1 whose boundary holds the point
// ($2 latitude, $3 longitude), through the boundary's GiST index. Where
// generalised boundaries overlap a little, the lowest code wins, so the
// answer is stable.
const areaAtSQL = `SELECT code FROM areas
WHERE kind = $1 AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint($3, $2), 4326))
ORDER BY code LIMIT 1`

// AreaAt returns the code of the area of kind holding the point, "" when
// no area of the kind does. People's home areas are found this way where
// the postcode data names none (a Dutch PC4's buurt).
func (s *Store) AreaAt(ctx context.Context, kind string, lat, lng float64) (string, error) {
	var code string
	err := s.pool.QueryRow(ctx, areaAtSQL, kind, lat, lng).Scan(&code)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("finding the %s at a point: %w", kind, err)
	}
	return code, nil
}
