package usage_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

var metricShape = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// FuzzParseMetric checks ParseMetric accepts exactly the documented pattern.
func FuzzParseMetric(f *testing.F) {
	for _, s := range []string{"api_calls", "A", "", "a-b", "a\n", "a" + string(make([]byte, 70))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := usage.ParseMetric(in)
		if (err == nil) != metricShape.MatchString(in) {
			t.Fatalf("ParseMetric(%q) err=%v disagrees with the pattern", in, err)
		}
		if err == nil && m.String() != in {
			t.Fatalf("ParseMetric(%q) = %q", in, m)
		}
		if err != nil && domain.ErrorCode(err) != domain.CodeInvalid {
			t.Fatalf("ParseMetric(%q): uncoded error %v", in, err)
		}
	})
}

// FuzzParseQuantity checks accepted quantities are positive, canonical and
// exactly what strconv reads, and that every canonical positive int64 up to
// MaxQuantity is accepted.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"1", "0", "01", "-1", "1e3", "1.0", "9223372036854775807", "9223372036854775808", "+1", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := usage.ParseQuantity(in)
		n, perr := strconv.ParseInt(in, 10, 64)
		canonical := perr == nil && n > 0 && n <= usage.MaxQuantity && strconv.FormatInt(n, 10) == in
		if (err == nil) != canonical {
			t.Fatalf("ParseQuantity(%q) err=%v, canonical=%v", in, err, canonical)
		}
		if err == nil && (q.Int64() != n || q.String() != in) {
			t.Fatalf("ParseQuantity(%q) = %d", in, q.Int64())
		}
	})
}

// FuzzParseRecordJSON checks the parser never panics, only returns coded
// errors, and that every accepted record is valid, in UTC, inside the window,
// and survives its own stored encoding unchanged.
func FuzzParseRecordJSON(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"metric":"api_calls","quantity":12,"occurred_at":"2025-03-01T11:00:00Z","idempotency_key":"req-1"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1.0,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":"1","idempotency_key":"k"}`,
		`{"metric":"a","metric":"a","quantity":1,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k","occurred_at":"2025-03-01T12:05:00+00:00"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k"}{}`,
		`{`, `}`, `[]`, `null`, ``, `{"":0}`,
		` {"metric" : "a" , "quantity" : 7 , "idempotency_key" : "k" } `, `{"metric":"a","quantity":-1,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1e2,"idempotency_key":"k"}`, `{"metric":"a\u0062","quantity":1,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k\xff"}`, `{"Metric":"a","quantity":1,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k","occurred_at":"2025-03-01T11:00:00.5+01:00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := usage.ParseRecordJSON(data, now)
		// The fast path for plain records decides exactly as the token-by-token path.
		ref, refErr := usage.ParseRecordTokens(data, now)
		if (err == nil) != (refErr == nil) || r != ref {
			t.Fatalf("ParseRecordJSON(%q) = %+v, %v; the token path says %+v, %v", data, r, err, ref, refErr)
		}
		if err != nil {
			// Invalid, or a quantity over MaxQuantity (a limit, met while reading: it may come
			// before a later syntax error in the same document; either is a 4xx).
			if code := domain.ErrorCode(err); (code != domain.CodeInvalid && code != domain.CodeLimit) || r != (usage.Recorded{}) {
				t.Fatalf("ParseRecordJSON(%q) = %+v, %v; want zero record and CodeInvalid or CodeLimit", data, r, err)
			}
			return
		}
		if !metricShape.MatchString(r.Metric.String()) || r.Quantity.Int64() < 1 || r.IdempotencyKey.IsZero() {
			t.Fatalf("ParseRecordJSON(%q) accepted an invalid record %+v", data, r)
		}
		if r.OccurredAt.Location() != time.UTC || r.OccurredAt.After(now.Add(usage.MaxFutureSkew)) ||
			r.OccurredAt.Before(now.Add(-usage.MaxAge)) {
			t.Fatalf("ParseRecordJSON(%q) occurred_at %v outside the window or not UTC", data, r.OccurredAt)
		}
		stored, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		again, err := usage.ParseRecordJSON(stored, now)
		if err != nil || again != r {
			t.Fatalf("stored form %s re-parses as %+v, %v; want %+v", stored, again, err, r)
		}
	})
}
