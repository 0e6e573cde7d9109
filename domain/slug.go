package domain

import (
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// slugPattern is the shape of a slug: a DNS label that is safe as a subdomain
// and a path segment.
var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

// reservedSlugs are names a tenant may not claim because they collide with
// our own subdomains, routes or brand. Keep sorted.
var reservedSlugs = []string{
	"admin", "api", "app", "assets", "billing", "docs", "healthz", "help",
	"internal", "mail", "metrics", "readyz", "root", "static", "status",
	"support", "system", "tenantry", "v1", "www",
}

// Slug is a tenant's unique, URL-safe handle, used in subdomains and in
// /v1/workspaces/{slug} paths.
type Slug struct{ s string }

// ParseSlug accepts a slug only in canonical form: input is never lowercased
// or trimmed, so the slug a user typed is exactly the slug they get.
func ParseSlug(s string) (Slug, error) {
	if err := checkSlugShape(s); err != nil {
		return Slug{}, err
	}
	if IsReservedSlug(s) {
		return Slug{}, Invalid("slug", "slug %q is reserved; choose another name", s)
	}
	// Wherever a tenant is named, a UUID is read as its id: a slug shaped like one could
	// never be reached by name.
	if _, err := uuid.Parse(s); err == nil {
		return Slug{}, Invalid("slug", "slug %q is shaped like a tenant id; choose another name", s)
	}
	return Slug{s: s}, nil
}

// IsReservedSlug reports whether s is a name no tenant may claim.
func IsReservedSlug(s string) bool {
	_, found := slices.BinarySearch(reservedSlugs, s)
	return found
}

func checkSlugShape(s string) error {
	if !slugPattern.MatchString(s) || strings.Contains(s, "--") {
		return Invalid("slug", "slug must be 3 to 40 characters of lowercase letters, digits and single hyphens, "+
			"start with a letter and not end with a hyphen")
	}
	return nil
}

// String returns the slug; empty for the zero value.
func (s Slug) String() string { return s.s }

// IsZero reports whether s is the unset value.
func (s Slug) IsZero() bool { return s.s == "" }

// MarshalText encodes the slug; an unset slug is an error.
func (s Slug) MarshalText() ([]byte, error) {
	if s.IsZero() {
		return nil, errUnset("slug")
	}
	return []byte(s.s), nil
}

// UnmarshalText decodes a stored slug. It checks the shape but not the
// reserved list: reserving a word is a policy for new tenants and must never
// make existing history unreadable.
func (s *Slug) UnmarshalText(b []byte) error {
	if err := checkSlugShape(string(b)); err != nil {
		return err
	}
	s.s = string(b)
	return nil
}
