package eventstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/auditlog"
)

// Reads for the audit use cases (domain/app: export, replay as of a time), in the pure
// types they declare. Both page with ReadTenantBounded: an outsider sets them going, so a
// history of large events costs bounded memory per page.

// AuditEvent is e as the audit log sees it: its content and chain fields.
func (e *Event) AuditEvent() auditlog.Event {
	return auditlog.Event{TenantID: e.TenantID, Seq: e.Seq, ID: e.ID, StreamID: e.StreamID, StreamVersion: e.StreamVersion,
		Type: e.Type, SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
		PrevHash: e.PrevHash, Hash: e.Hash}
}

// AuditPage returns up to limit of the tenant's events after afterSeq as stored, in seq
// order; a page is also cut by size (see ReadTenantBounded), so only an empty one ends the
// history.
func (s *Store) AuditPage(ctx context.Context, tenant uuid.UUID, afterSeq int64, limit int) ([]auditlog.Event, error) {
	page, err := s.ReadTenantBounded(ctx, tenant, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]auditlog.Event, len(page))
	for i := range page {
		out[i] = page[i].AuditEvent()
	}
	return out, nil
}

// ReadHistory returns a page of the tenant's events after afterSeq, decoded, in seq order,
// stopping before the first one recorded after until (events are recorded in seq order).
// done says no event after the page is recorded at or before until: the history up to
// until is read. A page cut by size (see ReadTenantBounded) is not done.
func (d DomainStore) ReadHistory(ctx context.Context, tenant uuid.UUID, afterSeq int64, until time.Time) ([]domain.Recorded, bool, error) {
	page, err := d.Store.ReadTenantBounded(ctx, tenant, afterSeq, MaxPage)
	if err != nil {
		return nil, false, err
	}
	out := make([]domain.Recorded, 0, len(page))
	for i := range page {
		if page[i].RecordedAt.After(until) {
			return out, true, nil
		}
		r, err := d.decode(&page[i])
		if err != nil {
			return nil, false, err
		}
		out = append(out, r)
	}
	return out, len(page) == 0, nil
}
