package httpapi

import (
	"encoding/json"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// The handlers answer http/api types (the OpenAPI document is derived from them); these
// turn the use cases' results and the read models' rows into them.

func tenantAnswer(t app.TenantSummary) api.Tenant {
	return api.Tenant{ID: t.ID, Name: t.Name, Slug: t.Slug, Plan: t.Plan, PlanVersion: t.PlanVersion, Interval: t.Interval,
		TrialEndsAt: t.TrialEndsAt, Status: t.Status}
}

func memberSummary(m app.MemberSummary) api.MemberSummary {
	return api.MemberSummary{ID: m.ID, Email: m.Email, Role: m.Role}
}

func newKeyAnswer(k app.NewKey) api.NewAPIKey {
	return api.NewAPIKey{ID: k.ID, Key: k.Key, Prefix: k.Prefix, Role: k.Role, MemberID: k.MemberID, Name: k.Name}
}

func profileAnswer(p eventstore.Profile) api.Profile {
	return api.Profile{ID: p.TenantID, Name: p.Name, Slug: p.Slug, Plan: p.Plan, PlanVersion: p.PlanVersion, Interval: p.Interval,
		TrialEndsAt: p.TrialEndsAt, Status: p.Status, SuspendReason: p.SuspendReason,
		SuspendNote: p.SuspendNote, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func invitationAnswer(i eventstore.Invitation) api.Invitation {
	return api.Invitation{ID: i.InvitationID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy, ExpiresAt: i.ExpiresAt, Status: i.Status}
}

// mapAll is f over xs, never nil (a list answers [] rather than null).
func mapAll[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// pageOf is p's paging as the API answers it (next_cursor and has_more, both always sent).
func pageOf[T any](p domain.Page[T]) api.Page {
	return api.Page{NextCursor: p.NextCursor, HasMore: p.HasMore}
}

func chainReportAnswer(v VerifyAnswer) api.ChainReport {
	r := v.ChainReport
	return api.ChainReport{TenantID: r.Tenant, Events: r.Events, HeadSeq: r.HeadSeq, HeadHash: r.HeadHash, OK: r.OK,
		FirstBadSeq: r.FirstBadSeq, Problem: string(r.Problem), Detail: r.Detail, FullCheckAt: v.FullCheckAt}
}

// stateAnswer is app.State as the API answers it: usage totals as exact integers, as every
// other usage total of the API (GET /v1/usage, GET /v1/billing); tenant null before the
// tenant's creation.
func stateAnswer(st app.State) api.AuditState {
	out := api.AuditState{AsOf: st.AsOf, Seq: st.Seq, Members: make([]api.MemberSummary, len(st.Members)),
		UsageTotals: make(map[string]api.ExactDecimal, len(st.UsageTotals))}
	if st.Tenant != nil {
		t := tenantAnswer(*st.Tenant)
		out.Tenant = &t
	}
	for i, m := range st.Members {
		out.Members[i] = api.MemberSummary{ID: m.ID, Email: m.Email, Role: m.Role}
	}
	for metric, n := range st.UsageTotals {
		out.UsageTotals[metric] = api.Decimal(n.String())
	}
	for name, raw := range st.Modules {
		if out.Modules == nil {
			out.Modules = map[string]any{}
		}
		out.Modules[name] = json.RawMessage(raw)
	}
	return out
}
