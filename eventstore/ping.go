package eventstore

import "context"

// Ping checks that the store's database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }
