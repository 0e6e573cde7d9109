package eventstore

import (
	"context"

	"github.com/google/uuid"
)

// AppendUnannounced appends as Append does but tells no one in this process: the feed's
// watchers see it only through LISTEN/NOTIFY, as they see another process's appends.
func (s *Store) AppendUnannounced(ctx context.Context, tenant uuid.UUID, stream string, events ...NewEvent) (AppendResult, error) {
	params, _, err := newAppendParams(tenant, stream, Any, events)
	if err != nil {
		return AppendResult{}, err
	}
	return s.send(ctx, appendSQL, params.args(), len(events), scanAppended)
}
