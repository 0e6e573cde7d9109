package tenant

import (
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/domain"
)

const (
	maxNameLen = 100 // characters
	maxNoteLen = 500 // characters
)

// Name is a tenant's display name.
type Name struct{ s string }

// ParseName accepts 1 to 100 characters of valid UTF-8 without control
// characters. Input is never trimmed; a name that starts or ends with
// whitespace is rejected so the stored name is exactly what was typed.
func ParseName(s string) (Name, error) {
	if s == "" {
		return Name{}, domain.Invalid("name", "name is required")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen {
		return Name{}, domain.Invalid("name", "name must be at most %d characters of text", maxNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Name{}, domain.Invalid("name", "name must not contain control characters such as newlines or tabs")
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return Name{}, domain.Invalid("name", "name must not start or end with spaces")
	}
	return Name{s: s}, nil
}

// String returns the name; empty for the zero value.
func (n Name) String() string { return n.s }

// IsZero reports whether n is the unset value.
func (n Name) IsZero() bool { return n.s == "" }

// MarshalText encodes the name; an unset name is an error.
func (n Name) MarshalText() ([]byte, error) { return marshalEnum("name", n.s) }

// UnmarshalText decodes a stored name with the same rules as ParseName.
func (n *Name) UnmarshalText(b []byte) error { return unmarshalEnum(b, ParseName, n) }

// checkNote validates the optional free-text note on a suspension or closure:
// at most 500 characters, where newlines and tabs are the only control
// characters allowed.
func checkNote(note string) error {
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxNoteLen {
		return domain.Invalid("note", "note must be at most %d characters of text", maxNoteLen)
	}
	for _, r := range note {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return domain.Invalid("note", "note must not contain control characters other than newlines and tabs")
		}
	}
	return nil
}
