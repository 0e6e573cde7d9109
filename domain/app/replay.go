package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

// History is what replaying needs of the event store (eventstore.DomainStore implements
// it): a tenant's events, decoded, in seq order.
type History interface {
	// ReadHistory returns a page of the tenant's events after afterSeq, stopping before the
	// first one recorded after until; done says the history up to until is read. A page may
	// be short without being the last: read on until done.
	ReadHistory(ctx context.Context, tenant uuid.UUID, afterSeq int64, until time.Time) (page []domain.Recorded, done bool, err error)
}

// Replay rebuilds a tenant as its events alone say it was at an instant: what an auditor
// asks of GET /v1/audit/state and `tenantry audit replay`, independent of the read models.
type Replay struct {
	History History
	// Modules are the products' modules: each with a State is shown in State.Modules,
	// replayed from the module's own event types.
	Modules []module.Module
}

// ReplayInput names the tenant and the instant.
type ReplayInput struct {
	Tenant uuid.UUID
	AsOf   time.Time
}

// State is a tenant as its events say it was at an instant.
type State struct {
	AsOf    time.Time    `json:"as_of"`
	Seq     int64        `json:"seq"`
	Tenant  *TenantView  `json:"tenant"`
	Members []MemberView `json:"members"`
	// UsageTotals are exact sums, written as JSON numbers of any size (whole ones as
	// integers): a metric's records over a tenant's whole history can add up to more than
	// an int64 (10^12 a record), events stored before that bound may carry up to 2^63-1
	// each, and a metric that allows decimal places sums them exactly.
	UsageTotals map[string]usage.Decimal `json:"usage_totals"`
	// Modules are the states of the modules that declare one (module.Module.State), by
	// module name, JSON-encoded; absent when none does.
	Modules map[string]json.RawMessage `json:"modules,omitempty"`
}

// TenantView is a tenant's profile as the API shows it.
type TenantView = TenantSummary

// MemberView is a member as the API shows it.
type MemberView struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
	Role  string    `json:"role"`
}

// AsOf replays the tenant's events recorded at or before in.AsOf.
func (u Replay) AsOf(ctx context.Context, in ReplayInput) (State, error) {
	var f Fold
	if err := u.Extend(ctx, &f, in.Tenant, in.AsOf); err != nil {
		return State{AsOf: in.AsOf.UTC(), Members: []MemberView{}, UsageTotals: map[string]usage.Decimal{}}, err
	}
	return f.State(in.AsOf)
}

// Fold is a tenant's history folded up to a seq: what a State is built from. It can be
// folded further as the history grows, so that a caller keeping it (the API's audit cache)
// pays for the current state only with the events recorded since it last asked. The zero
// Fold is the empty history.
type Fold struct {
	seq                        int64
	last                       time.Time // when the event at seq was recorded
	tenantEvents, memberEvents []domain.Event
	usageTotals                map[string]*big.Int      // exact: int64 sums wrapped around
	usageFractions             map[string]usage.Decimal // the sums of quantities with decimals
	// modules with a State, and each one's events folded so far (by module name): a
	// module's State is mutable, so it is rebuilt from them in State rather than kept.
	modules      []module.Module
	moduleEvents map[string][]domain.Recorded
}

// Seq is the seq of the last event folded (0: none).
func (f *Fold) Seq() int64 { return f.seq }

// Last is when the last event folded was recorded.
func (f *Fold) Last() time.Time { return f.last }

// Extend folds into f the tenant's events after f.Seq() recorded at or before until.
func (u Replay) Extend(ctx context.Context, f *Fold, tenantID uuid.UUID, until time.Time) error {
	if f.usageTotals == nil {
		f.usageTotals = map[string]*big.Int{}
	}
	if f.moduleEvents == nil {
		f.moduleEvents = map[string][]domain.Recorded{}
		for _, m := range u.Modules {
			if m.State != nil {
				f.modules = append(f.modules, m)
			}
		}
	}
	var q big.Int
	for {
		page, done, err := u.History.ReadHistory(ctx, tenantID, f.seq, until)
		if err != nil {
			return err
		}
		for _, r := range page {
			switch r.StreamID {
			case tenant.StreamID:
				f.tenantEvents = append(f.tenantEvents, r.Event)
			case membership.StreamID:
				f.memberEvents = append(f.memberEvents, r.Event)
			case usage.StreamID:
				recs, _ := usage.Records(r.Event)
				for _, rec := range recs {
					if rec.Quantity.Scale() > 0 {
						if f.usageFractions == nil {
							f.usageFractions = map[string]usage.Decimal{}
						}
						f.usageFractions[rec.Metric.String()] = f.usageFractions[rec.Metric.String()].Add(rec.Quantity.Decimal())
						continue
					}
					sum := f.usageTotals[rec.Metric.String()]
					if sum == nil {
						sum = new(big.Int)
						f.usageTotals[rec.Metric.String()] = sum
					}
					sum.Add(sum, q.SetInt64(rec.Quantity.Int64()))
				}
			}
			for _, m := range f.modules {
				if r.Event != nil && m.OwnsType(r.Event.EventType()) {
					f.moduleEvents[m.Name] = append(f.moduleEvents[m.Name], r)
				}
			}
			f.seq, f.last = r.Seq, r.RecordedAt
		}
		if done {
			return nil
		}
	}
}

// Clone is a copy that can be folded further without changing f.
func (f *Fold) Clone() *Fold {
	out := &Fold{seq: f.seq, last: f.last, tenantEvents: slices.Clip(f.tenantEvents),
		memberEvents: slices.Clip(f.memberEvents), usageTotals: make(map[string]*big.Int, len(f.usageTotals))}
	for k, v := range f.usageTotals { // the sums are added to in place: copy them
		out.usageTotals[k] = new(big.Int).Set(v)
	}
	out.usageFractions = maps.Clone(f.usageFractions) // immutable values
	if f.moduleEvents != nil {
		out.modules, out.moduleEvents = f.modules, make(map[string][]domain.Recorded, len(f.moduleEvents))
		for k, v := range f.moduleEvents {
			out.moduleEvents[k] = slices.Clip(v)
		}
	}
	return out
}

// State is the tenant as the folded events leave it, as of asOf.
func (f *Fold) State(asOf time.Time) (State, error) {
	st := State{AsOf: asOf.UTC(), Seq: f.seq, Members: []MemberView{}, UsageTotals: make(map[string]usage.Decimal, len(f.usageTotals))}
	for k, v := range f.usageTotals {
		st.UsageTotals[k] = usage.DecimalOf(usage.AmountFromBig(v))
	}
	for k, v := range f.usageFractions {
		st.UsageTotals[k] = st.UsageTotals[k].Add(v)
	}
	if len(f.tenantEvents) > 0 {
		t, err := tenant.Replay(f.tenantEvents)
		if err != nil {
			return st, err
		}
		view := Summarize(t)
		st.Tenant = &view
	}
	m, err := membership.Replay(f.memberEvents)
	if err != nil {
		return st, err
	}
	for _, mem := range m.Members() {
		st.Members = append(st.Members, MemberView{ID: mem.ID, Email: mem.Email.String(), Role: mem.Role.String()})
	}
	for _, mod := range f.modules {
		ms := mod.State()
		for _, e := range f.moduleEvents[mod.Name] {
			if err := ms.Apply(e); err != nil {
				return st, fmt.Errorf("module %s: replay seq %d: %w", mod.Name, e.Seq, err)
			}
		}
		raw, err := json.Marshal(ms)
		if err != nil {
			return st, fmt.Errorf("module %s: encode its state: %w", mod.Name, err)
		}
		if st.Modules == nil {
			st.Modules = map[string]json.RawMessage{}
		}
		st.Modules[mod.Name] = raw
	}
	return st, nil
}
