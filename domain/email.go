package domain

import (
	"net/mail"
	"strings"
)

const (
	maxEmailLen = 254 // RFC 5321 path limit minus the angle brackets
	maxLocalLen = 64  // RFC 5321 local-part limit
)

// Email is a member's address in canonical form. Emails are compared
// case-insensitively, so the canonical form is the whole address lowercased.
type Email struct{ s string }

// ParseEmail accepts a bare ASCII address such as "Ana@Example.com" and returns
// it lowercased. Surrounding spaces are trimmed; display names, comments,
// angle brackets, quoted local parts, domain literals and non-ASCII addresses
// are rejected so that what is stored is exactly what the user typed.
func ParseEmail(s string) (Email, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Email{}, Invalid("email", "email is required")
	}
	if len(in) > maxEmailLen || !isPrintableASCII(in) {
		return Email{}, errEmail()
	}
	addr, err := mail.ParseAddress(in)
	if err != nil || addr.Name != "" || addr.Address != in {
		return Email{}, errEmail()
	}
	canon := strings.ToLower(in)
	if !plausibleEmail(canon) {
		return Email{}, errEmail()
	}
	return Email{s: canon}, nil
}

func errEmail() *Error {
	return Invalid("email", "email must be a plain address like name@example.com (at most %d characters, ASCII only)", maxEmailLen)
}

// plausibleEmail checks the structure we rely on beyond net/mail: one @, a
// local part within limits, and a dotted domain of DNS labels.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") || local == "" || len(local) > maxLocalLen {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// String returns the canonical address; empty for the zero value.
func (e Email) String() string { return e.s }

// IsZero reports whether e is the unset value.
func (e Email) IsZero() bool { return e.s == "" }

// MarshalText encodes the address; an unset email is an error.
func (e Email) MarshalText() ([]byte, error) {
	if e.IsZero() {
		return nil, errUnset("email")
	}
	return []byte(e.s), nil
}

// UnmarshalText decodes a stored address. It checks structure and canonical
// case only, not net/mail's grammar, so a change in the standard library can
// never make existing history unreadable.
func (e *Email) UnmarshalText(b []byte) error {
	s := string(b)
	if len(s) > maxEmailLen || !isPrintableASCII(s) || strings.ToLower(s) != s || !plausibleEmail(s) {
		return Invalid("email", "stored email %q is not a canonical address", s)
	}
	e.s = s
	return nil
}
