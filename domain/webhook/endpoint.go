package webhook

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// Operator is the owner id of the operator's deployment-wide endpoints (they receive every
// tenant's events), as the nil tenant stands for the platform elsewhere.
var Operator = uuid.Nil

// MaxEndpoints is how many endpoints one owner (a tenant, or the operator) may register.
const MaxEndpoints = 16

// AllTypes subscribes an endpoint to every event type.
const AllTypes = "*"

// Status is an endpoint's state: enabled endpoints receive deliveries.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
)

// ValidateURL accepts an absolute http(s) URL without credentials or fragment: https, or
// http when the host is loopback (a receiver on the same machine) or allowHTTP is set.
func ValidateURL(raw string, allowHTTP bool) error {
	if len(raw) > 2048 {
		return domain.Invalid("url", "url must be at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return domain.Invalid("url", "url must be an absolute http or https URL")
	}
	if u.User != nil || u.Fragment != "" {
		return domain.Invalid("url", "url must carry neither credentials nor a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP || isLoopbackHost(u.Hostname()) {
			return nil
		}
		return domain.Invalid("url", "url must use https (http only for a loopback host, or with TENANTRY_WEBHOOK_ALLOW_HTTP=1)")
	}
	return domain.Invalid("url", "url must be an absolute http or https URL")
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ValidateTypes checks an endpoint's event types against the known ones: each known, or
// AllTypes; at least one, at most 100, no duplicate.
func ValidateTypes(types []string, known func(string) bool) error {
	if len(types) == 0 || len(types) > 100 {
		return domain.Invalid("event_types", "event_types must list 1 to 100 event types (or \"*\")")
	}
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] {
			return domain.Invalid("event_types", "event type %q is listed twice", t)
		}
		seen[t] = true
		if t != AllTypes && !known(t) {
			return domain.Invalid("event_types", "unknown event type %q", t)
		}
	}
	return nil
}

// Matches reports whether an endpoint subscribed to types wants an event of type typ.
func Matches(types []string, typ string) bool {
	return slices.Contains(types, AllTypes) || slices.Contains(types, typ)
}

// Body is a delivery's JSON body: the event's id (stable across retries, for the receiver's
// deduplication), type, tenant, per-tenant seq, time recorded, and its data as stored.
type Body struct {
	ID        uuid.UUID       `json:"id"`
	Type      string          `json:"type"`
	TenantID  uuid.UUID       `json:"tenant_id"`
	Seq       int64           `json:"seq"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Encode is the body's bytes as sent (and signed).
func (b Body) Encode() ([]byte, error) {
	if len(b.Data) == 0 {
		b.Data = json.RawMessage("{}")
	}
	b.CreatedAt = b.CreatedAt.UTC()
	return json.Marshal(b)
}

// Retry is the retry schedule: exponential backoff from Min doubling to Max, with full
// jitter, until MaxAge after the first attempt; then the delivery fails.
type Retry struct {
	Min, Max time.Duration
	MaxAge   time.Duration
}

// DefaultRetry retries from about 10 s to about 6 h apart, for 72 hours.
var DefaultRetry = Retry{Min: 10 * time.Second, Max: 6 * time.Hour, MaxAge: 72 * time.Hour}

// Backoff is the wait after the attempts-th failed attempt (1 for the first): a uniform
// random duration up to min(Max, Min·2^(attempts-1)) (full jitter), at least Min/2 so that
// retries never spin.
func (r Retry) Backoff(attempts int) time.Duration {
	ceil := r.Min
	for i := 1; i < attempts && ceil < r.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.Max)
	floor := r.Min / 2
	if ceil <= floor {
		return ceil
	}
	return floor + rand.N(ceil-floor)
}

// Disable says when an endpoint is disabled after sustained failure: every attempt failing
// for Span, or Consecutive failed attempts in a row.
type Disable struct {
	Span        time.Duration
	Consecutive int
}

// DefaultDisable disables an endpoint failing for three days or 100 attempts in a row.
var DefaultDisable = Disable{Span: 72 * time.Hour, Consecutive: 100}
