package domain_test

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

var slugShape = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

// FuzzParseSlug checks ParseSlug accepts exactly the documented language and
// that accepted slugs survive every encoding unchanged.
func FuzzParseSlug(f *testing.F) {
	for _, s := range []string{"acme", "acme-corp", "a--b", "Acme", "admin", "ab", "abc-", "", " acme", "a\x00b", "é-é", "a0000000000000000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := domain.ParseSlug(in)
		_, isUUID := uuid.Parse(in)
		want := slugShape.MatchString(in) && !strings.Contains(in, "--") && !domain.IsReservedSlug(in) && isUUID != nil
		if (err == nil) != want {
			t.Fatalf("ParseSlug(%q) err=%v, want accepted=%v", in, err, want)
		}
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid {
				t.Fatalf("ParseSlug(%q) returned %v, want a CodeInvalid error", in, err)
			}
			return
		}
		if s.String() != in {
			t.Fatalf("ParseSlug(%q).String() = %q", in, s.String())
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Slug
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("JSON round trip of %q: %v, %q", in, err, back)
		}
	})
}

// FuzzParseEmail checks that accepted emails are canonical, structurally
// sound, idempotent under re-parsing and case-insensitive.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"ana@example.com", "Ana <ana@example.com>", `"a b"@example.com`, "a@b", "a@[1.2.3.4]",
		" Ana@Example.COM ", "a@b@c.d", "a.@b.co", "(c)a@b.co", "a@b.co (c)", "=?utf-8?q?x?=@b.co"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := domain.ParseEmail(in)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid {
				t.Fatalf("ParseEmail(%q) returned %v, want a CodeInvalid error", in, err)
			}
			return
		}
		s := e.String()
		local, host, _ := strings.Cut(s, "@")
		switch {
		case s != strings.ToLower(s):
			t.Fatalf("ParseEmail(%q) = %q is not lowercase", in, s)
		case len(s) > 254 || len(local) > 64 || local == "":
			t.Fatalf("ParseEmail(%q) = %q breaks a length limit", in, s)
		case strings.Count(s, "@") != 1 || !strings.Contains(host, "."):
			t.Fatalf("ParseEmail(%q) = %q lacks one @ and a dotted domain", in, s)
		case s != strings.ToLower(strings.TrimSpace(in)):
			t.Fatalf("ParseEmail(%q) = %q is not the trimmed, lowercased input", in, s)
		}
		if again, err := domain.ParseEmail(s); err != nil || again != e {
			t.Fatalf("re-parsing %q: %v, %q", s, err, again)
		}
		if upper, err := domain.ParseEmail(strings.ToUpper(in)); err != nil || upper != e {
			t.Fatalf("ParseEmail is case-sensitive for %q: %v, %q", in, err, upper)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Email
		if err := json.Unmarshal(b, &back); err != nil || back != e {
			t.Fatalf("JSON round trip of %q: %v, %q", s, err, back)
		}
	})
}

// FuzzParsePlanOverrides checks overrides never produce an invalid catalog,
// leave the base intact on error, and are idempotent.
func FuzzParsePlanOverrides(f *testing.F) {
	for _, s := range []string{"", "pro.seats=50,free.rps=2,enterprise.burst=5000", "free.rps=0.5", "pro.seats=0",
		"pro.seats=5,pro.seats=5", "x", ",", "free.rps=1e308", "free.rps=0.0000000000000000000001", " pro.burst=7 "} {
		f.Add(s)
	}
	base := domain.DefaultPlans()
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := domain.ParsePlanOverrides(base, spec)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid || got != base {
				t.Fatalf("ParsePlanOverrides(%q) = %v, %v; want CodeInvalid and the base", spec, got, err)
			}
			return
		}
		for _, p := range domain.PlanNames() {
			l := got.Limits(p)
			if !l.Valid() || math.IsInf(l.RequestsPerSecond, 0) {
				t.Fatalf("ParsePlanOverrides(%q) produced invalid %s limits %+v", spec, p, l)
			}
		}
		again, err := domain.ParsePlanOverrides(got, spec)
		if err != nil || again != got {
			t.Fatalf("ParsePlanOverrides(%q) is not idempotent: %v, %+v vs %+v", spec, err, again, got)
		}
	})
}
