package api

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// plainDecimal is the notation isPlainDecimal accepts, as the regular expression it replaced.
var plainDecimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`)

// isPlainDecimal accepts exactly what plainDecimal matches, and ExactDecimal writes what its
// documentation says: a whole number as ExactInt writes it, a fraction as a JSON number up to
// MaxSafeJSONDigits significant digits, otherwise a string.
func FuzzPlainDecimal(f *testing.F) {
	for _, s := range []string{"", "0", "-0", "00", "01", "1", "-1", "1.", ".5", "1.0", "1.50", "1.05", "-0.5", "0.000",
		"999999999999999", "9999999999999999", "-9007199254740993", "123456789012.345678", "10000.00000000002", "-0.000000000000001234", "1e5", "+1", "1.2.3", "--1", "0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := plainDecimal.MatchString(s)
		if got := isPlainDecimal(s); got != want {
			t.Fatalf("isPlainDecimal(%q) = %v, the expression says %v", s, got, want)
		}
		out, err := Decimal(s).MarshalJSON()
		if s == "" { // the zero value is 0
			want, s = true, "0"
		}
		if !want {
			if err == nil {
				t.Fatalf("%q is not plain, but was written as %s", s, out)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if whole, ok := new(big.Int).SetString(s, 10); ok {
			if exact, _ := Exact(whole).MarshalJSON(); string(out) != string(exact) {
				t.Fatalf("%q written as %s, ExactInt writes %s", s, out, exact)
			}
			return
		}
		digits := len(strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(s), "0")) // significant digits
		if digits <= MaxSafeJSONDigits && string(out) != s || digits > MaxSafeJSONDigits && string(out) != strconv.Quote(s) {
			t.Fatalf("%q (%d significant digits) written as %s", s, digits, out)
		}
	})
}

// marshalGeneral is MarshalJSON as it was before its loop and whole-number shortcut: the
// expression, and big.Int for every whole number (the baseline of BenchmarkExactDecimal).
func marshalGeneral(e ExactDecimal) ([]byte, error) {
	s := e.String()
	if !plainDecimal.MatchString(s) {
		return nil, strconv.ErrSyntax
	}
	whole, frac, dot := strings.Cut(s, ".")
	if !dot {
		v, _ := new(big.Int).SetString(whole, 10)
		return Exact(v).MarshalJSON()
	}
	if digits := strings.TrimLeft(strings.TrimPrefix(whole, "-")+frac, "0"); len(digits) <= MaxSafeJSONDigits {
		return []byte(s), nil
	}
	return strconv.AppendQuote(nil, s), nil
}

// BenchmarkExactDecimal prints what every decimal of every answer costs to write:
//
//	exact_decimal_marshal  ns per MarshalJSON of a usage-sized whole number and a
//	                       fraction, alternately (baseline: marshalGeneral, the
//	                       expression and big.Int it replaced)
func BenchmarkExactDecimal(b *testing.B) {
	if !pgtest.BenchSelected("exact_decimal_marshal") {
		b.Skip("exact_decimal_marshal not selected")
	}
	values := []ExactDecimal{Decimal("1234567"), Decimal("42.125")}
	run := func(f func(ExactDecimal) ([]byte, error)) float64 {
		const n = 1_000_000
		start := time.Now()
		for i := range n {
			if _, err := f(values[i%2]); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / n
	}
	fast, general := pgtest.Alternate(3, func() float64 { return run(ExactDecimal.MarshalJSON) },
		func() float64 { return run(marshalGeneral) })
	pgtest.BenchLine("exact_decimal_marshal", pgtest.Median(fast), "ns", "marshal_regexp_bigint", pgtest.Median(general))
}
