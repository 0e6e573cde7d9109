package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
)

// Fuzz targets for the parsers of outside input that the HTTP API owns. They call the
// parsing code directly (no database): `make fuzz` runs each briefly in CI.

// FuzzParseUsageBody: a POST /v1/usage body, one record or {"records": [...]}, arbitrary
// or assembled from fuzzed fields so that the batch paths are reached. The parser never
// panics; it refuses only with a coded invalid error (a 400, never a 5xx); what it accepts
// is 1 to MaxUsageRecords valid records; and its fast paths (one plain record, a plain
// batch) decide exactly as the full decode does.
func FuzzParseUsageBody(f *testing.F) {
	for _, s := range []string{
		`{"metric":"api_calls","quantity":1,"idempotency_key":"k-1"}`,
		`{"records":[{"metric":"api_calls","quantity":2,"idempotency_key":"a"},{"metric":"storage_gb","quantity":3,"idempotency_key":"b"}]}`,
		` {"records" : [ {"metric":"a","quantity":1,"idempotency_key":"k","occurred_at":"2025-03-01T11:00:00Z"} ] } `,
		`{"rec\u006frds":[{"metric":"a","quantity":1,"idempotency_key":"k"}]}`,
		`{"records":[]}`, `{"records":null}`, `{"records":[{}]}`, `{"records":[1]}`, `{"records":{}}`, `[]`, ``, "\xff",
		`{"metric":"a","quantity":1e3,"idempotency_key":"k"}`, `{"metric":"a","quantity":-0,"idempotency_key":"k"}`,
		`{"metric":"a","quantity":1,"idempotency_key":"k","records":[]}`,
	} {
		f.Add([]byte(s), "", int64(0), "", uint8(0), uint8(0))
	}
	f.Add([]byte(nil), "api_calls", int64(5), "key-1", uint8(3), uint8(0))
	f.Add([]byte(nil), "api_calls", int64(1), "k", uint8(1), uint8(1))
	f.Add([]byte(nil), "Bad Metric", int64(-1), "", uint8(2), uint8(2))
	f.Add([]byte(nil), "api_calls", int64(1), "\u00e9\\\"", uint8(200), uint8(3))
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte, metric string, quantity int64, key string, n uint8, shape uint8) {
		body := raw
		if len(raw) == 0 { // assemble a body from the fields: n records, in one of four shapes
			rec := func(i int) string {
				b, _ := json.Marshal(map[string]any{"metric": metric, "quantity": quantity, "idempotency_key": fmt.Sprintf("%s-%d", key, i%3)})
				return string(b)
			}
			var parts []string
			for i := 0; i < int(n)%8+1; i++ {
				parts = append(parts, rec(i))
			}
			switch shape % 4 {
			case 0:
				body = []byte(rec(0))
			case 1:
				body = []byte(`{"records":[` + strings.Join(parts, ",") + `]}`)
			case 2:
				body = []byte(" { \"records\" :\n[ " + strings.Join(parts, " ,\t") + " ] } ")
			case 3:
				body = []byte(`{"records":[` + strings.Join(parts, ",") + `],"extra":` + rec(0) + `}`)
			}
		}
		got, err := parseUsageBody(body, now)
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.CodeInvalid && code != domain.CodeLimit {
				t.Fatalf("%q: refused with %v, want a coded invalid (400) or limit (422) error", body, err)
			}
		} else {
			if len(got) < 1 || len(got) > MaxUsageRecords {
				t.Fatalf("%q: %d records accepted", body, len(got))
			}
			for i, r := range got {
				if _, err := usage.ParseMetric(r.Metric.String()); err != nil {
					t.Fatalf("%q: record %d has metric %q: %v", body, i, r.Metric, err)
				}
				if r.OccurredAt.Location() != time.UTC || r.OccurredAt.IsZero() {
					t.Fatalf("%q: record %d occurred at %v", body, i, r.OccurredAt)
				}
			}
		}
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] == '{' {
			want, wantErr := parseUsageEnvelope(trimmed, now, nil)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("%q: fast path says %v, full decode says %v", body, err, wantErr)
			}
			if err == nil && !equalRecords(got, want) {
				t.Fatalf("%q: fast path read %+v, full decode %+v", body, got, want)
			}
		}
	})
}

func equalRecords(a, b []usage.Recorded) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Metric != b[i].Metric || a[i].Quantity != b[i].Quantity || !a[i].OccurredAt.Equal(b[i].OccurredAt) ||
			a[i].IdempotencyKey != b[i].IdempotencyKey {
			return false
		}
	}
	return true
}

// FuzzRequestID: whatever X-Request-ID a caller sends, the request gets an id that is safe
// in a log line and a header (the caller's when it is sane, else a fresh uuid), and it is
// echoed and carried to the handler.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc-123", "bad id with spaces", "a\nb", "\x00", strings.Repeat("a", 128), strings.Repeat("a", 129), "é", "a.b:c_d-e", "<script>", "x\r\nSet-Cookie: y", "ünï", "req:1.2_3"} {
		f.Add(s)
	}
	_, s, _ := build(Deps{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
	r := gin.New()
	r.Use(s.observe)
	var seen string
	r.GET("/", func(c *gin.Context) { seen = requestID(c); c.Status(http.StatusNoContent) })
	f.Fuzz(func(t *testing.T, id string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Request-Id"] = []string{id} // as sent, even bytes net/http would refuse
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-ID")
		if w.Code != http.StatusNoContent || got != seen || !requestIDPattern.MatchString(got) {
			t.Fatalf("X-Request-ID %q: status %d, echoed %q, handler saw %q", id, w.Code, got, seen)
		}
		if requestIDPattern.MatchString(id) {
			if got != id {
				t.Fatalf("a sane X-Request-ID %q was replaced by %q", id, got)
			}
		} else if _, err := uuid.Parse(got); err != nil {
			t.Fatalf("X-Request-ID %q was replaced by %q, not a uuid", id, got)
		}
	})
}

// FuzzTenantResolution: the tenant a request names itself (workspace path segment, Host
// under the base domain, X-Tenant header). Resolution never panics; it either names one
// tenant (or none, when nothing names one) or has answered 400 (the sources disagree) or
// 404 (not a slug or id). Every slug is known here (the directory is stubbed in the slug
// cache), so no database is needed. (The nil uuid names no tenant: the credential's tenant
// then applies, as when nothing is named.)
func FuzzTenantResolution(f *testing.F) {
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	for _, c := range [][3]string{
		{"", "api.tenantry.test", ""}, {"acme", "", ""}, {"acme", "acme.tenantry.test", "acme"}, {"acme", "other.tenantry.test", ""},
		{id, "", "acme"}, {"", "ACME.Tenantry.Test.:8080", ""}, {"", "a.b.tenantry.test", " acme "}, {"", "[::1]:80", "Bad Slug"},
		{strings.ToUpper(id), "tenantry.test", ""}, {"00000000-0000-0000-0000-000000000000", "", ""}, {"", ".tenantry.test", "\x00"}, {"acme", "acme.tenantry.test:", id},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, workspace, host, xTenant string) {
		s := &Server{d: Deps{BaseDomain: "tenantry.test"}}
		// Every slug maps to a tenant of its own, as if the directory knew them all.
		stub := func(ref string) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceURL, []byte(ref)) }
		for _, ref := range []string{workspace, s.subdomain(host), strings.TrimSpace(xTenant)} {
			if _, err := domain.ParseSlug(ref); err == nil {
				s.slugs.Store(ref, stub(ref))
			}
		}
		if sub := s.subdomain(host); sub != "" {
			h := strings.ToLower(host)
			if strings.Contains(sub, ".") || sub != strings.ToLower(sub) || !strings.Contains(h, sub+".tenantry.test") {
				t.Fatalf("subdomain(%q) = %q", host, sub)
			}
		}
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Host = host
		c.Request.Header["X-Tenant"] = []string{xTenant}
		if workspace != "" {
			c.Params = gin.Params{{Key: "workspace", Value: workspace}}
		}
		found, ok := s.explicitTenant(c)
		if !ok {
			if !c.IsAborted() || (w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound) {
				t.Fatalf("(%q, %q, %q): refused with status %d", workspace, host, xTenant, w.Code)
			}
			return
		}
		if c.IsAborted() {
			t.Fatalf("(%q, %q, %q): resolved to %s but answered %d", workspace, host, xTenant, found, w.Code)
		}
		named := false
		for _, ref := range []string{workspace, s.subdomain(host), strings.TrimSpace(xTenant)} {
			named = named || (ref != "" && !isNilUUID(ref))
		}
		if named != (found != uuid.Nil) {
			t.Fatalf("(%q, %q, %q): resolved to %s", workspace, host, xTenant, found)
		}
	})
}

func isNilUUID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && id == uuid.Nil
}

// FuzzStripeWebhook: POST /v1/webhooks/stripe through the real engine, with an arbitrary
// payload and Stripe-Signature header, or the payload correctly signed some seconds ago.
// The signature header is parsed by stripe-go (webhook.ConstructEventWithOptions), the
// payload then by app.ParseStripeEvent (as the delivery use case does first; the database
// part is left out). Never a 5xx: unsigned, forged, stale or malformed deliveries
// answer 400, a fresh correctly signed well-formed one 200.
func FuzzStripeWebhook(f *testing.F) {
	const secret = "whsec_fuzz"
	for _, p := range []string{
		`{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","status":"paid"}}}`,
		`{"id":"evt_1","type":"x","created":-5,"data":{"object":[]}}`, `{}`, `[]`, ``, "\xff",
	} {
		f.Add([]byte(p), "t=1,v1=deadbeef", true, int64(0))
		f.Add([]byte(p), "", false, int64(400))
	}
	f.Add([]byte(`{"id":"evt_2"}`), "t=,v1=,v0=,,==", false, int64(0))
	engine, _, _ := build(Deps{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry(), StripeWebhookSecret: secret,
		Webhooks: func(_ context.Context, ev app.StripeEvent) (app.StripeDelivery, error) {
			if _, err := app.ParseStripeEvent(ev); err != nil {
				return app.StripeDelivery{}, err
			}
			return app.StripeDelivery{Outcome: "ignored"}, nil
		}})
	f.Fuzz(func(t *testing.T, payload []byte, header string, sign bool, age int64) {
		fresh := false
		if sign { // correctly signed, age seconds ago (negative: in the future)
			age %= 1000
			at := time.Now().Add(-time.Duration(age) * time.Second)
			header = webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
			fresh = age >= -60 && age < WebhookTolerance.Milliseconds()/1000-5
		}
		req := httptest.NewRequest("POST", "/v1/webhooks/stripe", bytes.NewReader(payload))
		req.Header["Stripe-Signature"] = []string{header}
		req.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		switch {
		case w.Code >= 500:
			t.Fatalf("%q signed %q: %d %s", payload, header, w.Code, w.Body)
		case !sign && w.Code != http.StatusBadRequest:
			t.Fatalf("%q with a forged signature %q: %d %s", payload, header, w.Code, w.Body)
		case fresh && w.Code != http.StatusOK && w.Code != http.StatusBadRequest:
			t.Fatalf("%q signed %ds ago: %d %s", payload, age, w.Code, w.Body)
		}
	})
}
