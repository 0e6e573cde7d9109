package domain

import (
	"strconv"
	"strings"
)

// ParsePlanOverrides applies a configuration string such as
// "pro.seats=50,free.rps=2,enterprise.burst=5000" on top of base. Items are
// separated by commas, spaces around an item are ignored, and an empty spec
// returns base unchanged. Parsing is strict: an unknown plan or key, a value
// that is not a positive decimal number within bounds, an empty item or the
// same plan.key twice is an error naming the offending item.
func ParsePlanOverrides(base Plans, spec string) (Plans, error) {
	out := base
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	seen := make(map[string]bool)
	for raw := range strings.SplitSeq(spec, ",") {
		item := strings.TrimSpace(raw)
		if item == "" {
			return base, overrideErr(item, "empty item; separate overrides with single commas")
		}
		key, value, ok := strings.Cut(item, "=")
		if !ok {
			return base, overrideErr(item, "want plan.key=value")
		}
		planText, limit, ok := strings.Cut(key, ".")
		if !ok {
			return base, overrideErr(item, "want plan.key=value")
		}
		plan, err := ParsePlanName(planText)
		if err != nil || plan.index() < 0 {
			return base, overrideErr(item, "unknown plan "+strconv.Quote(planText)+"; use free, pro or enterprise")
		}
		if seen[key] {
			return base, overrideErr(item, strconv.Quote(key)+" is set more than once")
		}
		seen[key] = true
		l := &out.limits[plan.index()]
		switch limit {
		case "seats":
			n, ok := parseOverrideInt(value, maxSeats)
			if !ok {
				return base, overrideErr(item, "seats must be a whole number from 1 to "+strconv.Itoa(maxSeats))
			}
			l.Seats = n
		case "burst":
			n, ok := parseOverrideInt(value, maxBurst)
			if !ok {
				return base, overrideErr(item, "burst must be a whole number from 1 to "+strconv.Itoa(maxBurst))
			}
			l.Burst = n
		case "rps":
			f, ok := parseOverrideFloat(value, maxRPS)
			if !ok {
				return base, overrideErr(item, "rps must be a positive decimal number up to "+strconv.Itoa(maxRPS))
			}
			l.RequestsPerSecond = f
		default:
			return base, overrideErr(item, "unknown key "+strconv.Quote(limit)+"; use seats, rps or burst")
		}
	}
	return out, nil
}

func overrideErr(item, why string) *Error {
	return Invalid("plans", "plan override %q: %s", item, why)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseOverrideInt accepts only plain decimal digits, so "+5", "5e2" and
// "0x10" are rejected rather than guessed at.
func parseOverrideInt(s string, limit int) (int, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		return 0, false
	}
	return n, true
}

// parseOverrideFloat accepts digits with an optional fractional part, which
// rules out signs, exponents, hex, NaN and infinities.
func parseOverrideFloat(s string, limit float64) (float64, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if !isDigits(whole) || hasFrac && !isDigits(frac) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > limit {
		return 0, false
	}
	return f, true
}
