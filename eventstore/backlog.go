package eventstore

import (
	"context"
	"fmt"
)

// The projection backlog, read across tenants (tenantry_worker's functions) for /metrics.
const (
	projectionsBehindSQL       = `SELECT head_seq - projected_seq FROM tenantry.projection_backlog($1, $2::text[])`
	countStoppedProjectionsSQL = `SELECT count(*) FROM tenantry.projection_failures()`
)

// ProjectionsBehind says, for each of at most limit tenants whose read models (the named
// projections; none: Tenantry's own, Projections) are behind their events, by how many
// events (in no particular order).
func (s *Store) ProjectionsBehind(ctx context.Context, limit int, names ...string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, projectionsBehindSQL, limit, projectionNames(names))
	if err != nil {
		return nil, fmt.Errorf("read projection backlog: %w", err)
	}
	defer rows.Close()
	var behind []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read projection backlog: %w", err)
		}
		behind = append(behind, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read projection backlog: %w", err)
	}
	return behind, nil
}

// StoppedProjections counts the projections of tenants stopped on an event they cannot
// apply (tenantry.projection_failures()).
func (s *Store) StoppedProjections(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, countStoppedProjectionsSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stopped projections: %w", err)
	}
	return n, nil
}
