package app

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// StoreCoalesced stores records as the coalescer stores the single records of concurrent
// requests gathered together (one request id each), under the hard quotas of the plan
// version, and answers which were accepted and which refused.
func (u *RecordUsage) StoreCoalesced(ctx context.Context, tenant uuid.UUID, plan domain.PlanName, version int, records []usage.Recorded) (accepted []bool, refused []error, err error) {
	ids := make([]uuid.UUID, len(records))
	requests := make([]string, len(records))
	for i, r := range records {
		ids[i], requests[i] = usage.RecordEventID(tenant, r.IdempotencyKey), fmt.Sprintf("req-%d", i)
	}
	out, err := u.storeRecords(ctx, tenant, domain.Metadata{Actor: "test"}, u.quotasOf(plan, version), records, ids, requests)
	return out.accepted, out.refused, err
}
