package evidence

import "time"

// SetNow fixes the service's clock, so a test's windows have ended.
func (s *Service) SetNow(now func() time.Time) { s.now = now }
