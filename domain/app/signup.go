package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

// SlugClaims makes slugs unique across tenants (eventstore.Store implements it): a sign-up
// claims its slug before it appends anything, and releases it when the append fails.
type SlugClaims interface {
	// ClaimSlug claims slug for tenant; claimed is false when another tenant holds it.
	ClaimSlug(ctx context.Context, tenant uuid.UUID, slug domain.Slug) (claimed bool, err error)
	// ReleaseSlug drops the tenant's claim.
	ReleaseSlug(ctx context.Context, tenant uuid.UUID) error
}

// ErrSlugTaken is wrapped by SignUp.Run's error when another tenant holds the slug.
var ErrSlugTaken = errors.New("slug taken")

// SignUp creates a tenant with its founding admin and the admin's first API key, all or
// nothing: the tenant and membership streams are appended in one transaction, after the
// slug is claimed.
type SignUp struct {
	Events EventStore
	Slugs  SlugClaims
	// Plans is the plan catalog (nil: the default catalog).
	Plans PlanSource
	Now   func() time.Time
}

// SignUpInput is a validated sign-up (ParseSignUp).
type SignUpInput struct {
	Name       string // as given: tenant.Create checks it
	Slug       domain.Slug
	Plan       domain.PlanName
	Interval   plans.Interval
	AdminEmail domain.Email
	Meta       domain.Metadata
}

// ParseSignUp validates a sign-up as a client sends it, every field at once: the errors
// (each a domain.Invalid naming its field) are nil when all are valid. An empty plan is
// the free plan, an empty interval monthly. Whether the plan exists and is sold at the
// interval is the catalog's to say when the sign-up runs.
func ParseSignUp(name, slug, plan, interval, adminEmail string) (SignUpInput, []*domain.Error) {
	var in SignUpInput
	var errs []*domain.Error
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, &domain.Error{Code: domain.CodeInvalid, Field: field, Message: err.Error()})
		}
	}
	var err error
	in.Name = name
	_, err = tenant.ParseName(name)
	add("name", err)
	in.Slug, err = domain.ParseSlug(slug)
	add("slug", err)
	in.Plan = domain.PlanFree
	if plan != "" {
		in.Plan, err = domain.ParsePlanName(plan)
		add("plan", err)
	}
	in.Interval = plans.Monthly
	if interval != "" {
		in.Interval, err = plans.ParseInterval(interval)
		add("interval", err)
	}
	in.AdminEmail, err = domain.ParseEmail(adminEmail)
	add("admin_email", err)
	return in, errs
}

// TenantSummary is a tenant as the ports show it.
type TenantSummary struct {
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	Slug        string     `json:"slug"`
	Plan        string     `json:"plan"`
	PlanVersion int        `json:"plan_version"`
	Interval    string     `json:"interval"`
	TrialEndsAt *time.Time `json:"trial_ends_at,omitempty"`
	Status      string     `json:"status"`
}

// Summarize is the summary of a tenant's state.
func Summarize(t *tenant.Tenant) TenantSummary {
	sub := t.Subscription()
	out := TenantSummary{ID: t.ID(), Name: t.Name().String(), Slug: t.Slug().String(), Plan: sub.Plan.String(),
		PlanVersion: sub.PlanVersion, Interval: sub.Interval.String(), Status: t.Status().String()}
	if !sub.TrialEndsAt.IsZero() {
		end := sub.TrialEndsAt
		out.TrialEndsAt = &end
	}
	return out
}

// MemberSummary is a member as the ports show it.
type MemberSummary struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
	Role  string    `json:"role"`
}

// SignedUp is the answer to a sign-up (fields in the order the API has always shown them).
type SignedUp struct {
	Admin  MemberSummary `json:"admin"`
	APIKey NewKey        `json:"api_key"`
	// Seq is the tenant's last event: the read models include the sign-up once they reach it.
	Seq    int64         `json:"seq"`
	Tenant TenantSummary `json:"tenant"`
}

// Run signs the tenant up under fresh ids. A slug another tenant holds is an error wrapping
// ErrSlugTaken and a domain conflict; a failed append releases the slug claim.
func (u SignUp) Run(ctx context.Context, in SignUpInput) (SignedUp, error) {
	now := u.Now().UTC()
	id, memberID, keyID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	plan, err := joinable(ctx, u.Plans, in.Plan)
	if err != nil {
		return SignedUp{}, err
	}
	created, err := tenant.CreateOn(id, in.Name, in.Slug, plan, in.Interval.OrMonthly(), now)
	if err != nil {
		return SignedUp{}, err
	}
	var t tenant.Tenant
	if err := applyDecided(&t, created); err != nil {
		return SignedUp{}, err
	}
	secret, prefix, sum, err := mintKey(id, keyID)
	if err != nil {
		return SignedUp{}, err
	}
	m := &membership.Membership{}
	joined, err := m.AddFounder(memberID, in.AdminEmail, now)
	if err != nil {
		return SignedUp{}, err
	}
	if err := applyDecided(m, joined); err != nil {
		return SignedUp{}, err
	}
	keyed, err := m.CreateAPIKey(keyID, memberID, domain.RoleAdmin, "founder", prefix, sum, now)
	if err != nil {
		return SignedUp{}, err
	}

	// Claim the slug first: only one sign-up can hold it.
	claimed, err := u.Slugs.ClaimSlug(ctx, id, in.Slug)
	if err != nil {
		return SignedUp{}, err
	}
	if !claimed {
		return SignedUp{}, fmt.Errorf("%w: %w", ErrSlugTaken, domain.Conflict("the slug %s is taken", in.Slug))
	}
	pending := func(events []domain.Event) []domain.Pending { // under generated ids
		out := make([]domain.Pending, len(events))
		for i, e := range events {
			out[i].Event = e
		}
		return out
	}
	res, err := u.Events.AppendStreams(ctx, id, in.Meta,
		domain.StreamPart{Stream: tenant.StreamID, Expected: domain.NoStream, Events: pending(created)},
		domain.StreamPart{Stream: membership.StreamID, Expected: domain.NoStream, Events: pending(append(joined, keyed...))})
	if err != nil {
		if rerr := u.Slugs.ReleaseSlug(context.WithoutCancel(ctx), id); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return SignedUp{}, fmt.Errorf("sign up tenant %s: %w", in.Slug, err)
	}
	admin := domain.RoleAdmin.String()
	return SignedUp{
		Tenant: Summarize(&t),
		Admin:  MemberSummary{ID: memberID, Email: in.AdminEmail.String(), Role: admin},
		APIKey: NewKey{ID: keyID, Key: secret, Prefix: prefix, Role: admin, MemberID: memberID, Name: "founder"},
		Seq:    res[len(res)-1].LastSeq,
	}, nil
}

// applyDecided applies decided events to the state that decided them, for decisions taken in
// steps (the next step must see the previous one's events).
func applyDecided(a Aggregate, events []domain.Event) error {
	for _, e := range events {
		if err := a.Apply(e); err != nil {
			return fmt.Errorf("apply decided %s: %w", e.EventType(), err)
		}
	}
	return nil
}
