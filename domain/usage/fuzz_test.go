package usage_test

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strconv"
	"strings"
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

// FuzzParseQuantityScale checks the decimal quantity parser: it never panics, refuses with
// coded 4xx errors only, and accepts exactly the plain decimals of at most scale places
// from above 0 to MaxQuantity, whose canonical text reads back as the same quantity and
// whose value equals the input's (compared as big rationals, never floating point).
func FuzzParseQuantityScale(f *testing.F) {
	for _, s := range []string{"1.25", "1.50", "0.5", "0.0", "1.", ".5", "01.5", "1.2345678", "-1.5", "1e3",
		"999999999999.999999", "1000000000000.000001", "1000000000000", "12", "1.5.5", " 1.5"} {
		f.Add(s, uint8(2))
		f.Add(s, uint8(6))
		f.Add(s, uint8(0))
	}
	plain := regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, in string, sc uint8) {
		scale := int(sc % (usage.MaxScale + 1))
		q, err := usage.ParseQuantityScale(in, scale)
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.CodeInvalid && code != domain.CodeLimit {
				t.Fatalf("ParseQuantityScale(%q, %d): uncoded error %v", in, scale, err)
			}
		}
		places := 0
		if _, frac, ok := strings.Cut(in, "."); ok {
			places = len(frac)
		}
		v, isNum := new(big.Rat).SetString(in)
		want := plain.MatchString(in) && places <= scale && isNum && v.Sign() > 0 &&
			v.Cmp(new(big.Rat).SetInt64(usage.MaxQuantity)) <= 0
		if (err == nil) != want {
			t.Fatalf("ParseQuantityScale(%q, %d) err=%v, want accepted=%v", in, scale, err, want)
		}
		if err != nil {
			return
		}
		got, _ := new(big.Rat).SetString(q.String())
		if got.Cmp(v) != 0 || q.Scale() > scale {
			t.Fatalf("ParseQuantityScale(%q, %d) = %s (scale %d)", in, scale, q, q.Scale())
		}
		var back usage.Quantity
		b, _ := json.Marshal(q)
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Fatalf("stored %s reads back as %v, %v", b, back, err)
		}
		if d := q.Decimal(); d.String() != q.String() {
			t.Fatalf("decimal %s of quantity %s", d, q)
		}
	})
}

// FuzzParseRecordJSONFor checks the parser with definitions as FuzzParseRecordJSON checks
// it without: the fast path agrees with the token path, errors are coded 4xx, and accepted
// records keep within their metric's scale and survive their stored encoding.
func FuzzParseRecordJSONFor(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	gb, _ := usage.ParseMetric("gb")
	defs := usage.StaticDefinitions{gb: {Metric: gb, Kind: usage.KindGauge, Aggregation: usage.AggregationLast, Scale: 3}}
	for _, s := range []string{
		`{"metric":"gb","quantity":1.25,"idempotency_key":"k"}`,
		`{"quantity":1.250,"metric":"gb","idempotency_key":"k"}`,
		`{"metric":"gb","quantity":1.2501,"idempotency_key":"k"}`,
		`{"metric":"api","quantity":1.5,"idempotency_key":"k"}`,
		`{"metric":"gb","quantity":0.001,"idempotency_key":"k","occurred_at":"2025-03-01T11:00:00Z"}`,
		`{"metric":"gb","quantity":"1.5","idempotency_key":"k"}`,
		`{"metric":"gb","quantity":1.5,"quantity":2,"idempotency_key":"k"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := usage.ParseRecordJSONFor(data, now, defs)
		ref, refErr := usage.ParseRecordTokensFor(data, now, defs)
		if (err == nil) != (refErr == nil) || r != ref {
			t.Fatalf("ParseRecordJSONFor(%q) = %+v, %v; the token path says %+v, %v", data, r, err, ref, refErr)
		}
		if err != nil {
			if code := domain.ErrorCode(err); (code != domain.CodeInvalid && code != domain.CodeLimit) || r != (usage.Recorded{}) {
				t.Fatalf("ParseRecordJSONFor(%q) = %+v, %v", data, r, err)
			}
			return
		}
		if d, ok := defs.Definition(r.Metric); (ok && r.Quantity.Scale() > d.Scale) || (!ok && r.Quantity.Scale() > 0) {
			t.Fatalf("ParseRecordJSONFor(%q) accepted %s for %s", data, r.Quantity, r.Metric)
		}
		stored, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		again, err := usage.ParseRecordJSONFor(stored, now, defs)
		if err != nil || again != r {
			t.Fatalf("stored form %s re-parses as %+v, %v; want %+v", stored, again, err, r)
		}
	})
}
