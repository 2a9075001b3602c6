package postcodes

// CachedPlaces is how many places s's cache holds.
func CachedPlaces(s *Store) int {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.cache.byKey)
}

// CacheLive says whether s's cache is in use (its Listen is connected).
func CacheLive(s *Store) bool {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.live
}
