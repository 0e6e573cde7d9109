package tenant

import "github.com/tenantry/tenantry/domain"

// Status is where a tenant is in its lifecycle.
type Status struct{ s string }

// The lifecycle states. Closed is terminal.
var (
	StatusActive    = Status{"active"}
	StatusPastDue   = Status{"past_due"}
	StatusSuspended = Status{"suspended"}
	StatusClosed    = Status{"closed"}
)

// Statuses lists every status.
func Statuses() []Status { return []Status{StatusActive, StatusPastDue, StatusSuspended, StatusClosed} }

// ParseStatus accepts a status name exactly as spelled by Statuses.
func ParseStatus(s string) (Status, error) {
	for _, v := range Statuses() {
		if v.s == s {
			return v, nil
		}
	}
	return Status{}, domain.Invalid("status", "status must be one of active, past_due, suspended, closed")
}

// String returns the status name; empty for the zero value.
func (s Status) String() string { return s.s }

// IsZero reports whether s is the unset value.
func (s Status) IsZero() bool { return s.s == "" }

// MarshalText encodes the status; an unset status is an error.
func (s Status) MarshalText() ([]byte, error) { return marshalEnum("status", s.s) }

// UnmarshalText decodes a status name.
func (s *Status) UnmarshalText(b []byte) error { return unmarshalEnum(b, ParseStatus, s) }

// Reason is why a tenant was suspended.
type Reason struct{ s string }

// The suspension reasons.
var (
	ReasonPaymentFailed  = Reason{"payment_failed"}
	ReasonOperator       = Reason{"operator"}
	ReasonTermsViolation = Reason{"terms_violation"}
	// ReasonSubscriptionCanceled: the Stripe subscription was deleted.
	ReasonSubscriptionCanceled = Reason{"subscription_canceled"}
)

// Reasons lists every suspension reason.
func Reasons() []Reason {
	return []Reason{ReasonPaymentFailed, ReasonOperator, ReasonTermsViolation, ReasonSubscriptionCanceled}
}

// ParseReason accepts a reason name exactly as spelled by Reasons.
func ParseReason(s string) (Reason, error) {
	for _, v := range Reasons() {
		if v.s == s {
			return v, nil
		}
	}
	return Reason{}, domain.Invalid("reason", "reason must be one of payment_failed, operator, terms_violation, subscription_canceled")
}

// String returns the reason name; empty for the zero value.
func (r Reason) String() string { return r.s }

// IsZero reports whether r is the unset value.
func (r Reason) IsZero() bool { return r.s == "" }

// MarshalText encodes the reason; an unset reason is an error.
func (r Reason) MarshalText() ([]byte, error) { return marshalEnum("reason", r.s) }

// UnmarshalText decodes a reason name.
func (r *Reason) UnmarshalText(b []byte) error { return unmarshalEnum(b, ParseReason, r) }
