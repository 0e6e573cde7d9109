package audit

import "github.com/tenantry/tenantry/eventstore"

// ChainReport puts the live stream's verification (eventstore.Store.VerifyChain) in the shape
// of an export's Report (AUDIT.md section 3, "Report"), so that `audit verify --tenant` and
// `--file` print the same object. The live check has no head signature to check: signed is false.
func ChainReport(c eventstore.ChainReport) Report {
	return Report{OK: c.OK, TenantID: c.Tenant.String(), Events: c.Events, HeadSeq: c.HeadSeq, HeadHash: c.HeadHash,
		FirstBadSeq: c.FirstBadSeq, Problem: string(c.Problem), Detail: c.Detail}
}
