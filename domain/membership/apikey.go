package membership

import (
	"maps"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
)

const (
	// MaxActiveAPIKeys caps the keys of one tenant that are not revoked.
	MaxActiveAPIKeys = 100
	maxKeyPrefixLen  = 64  // bytes, all printable ASCII
	maxKeyNameLen    = 100 // characters
)

// APIKey is a read-only copy of one API key, revoked or not. The key itself
// is never known here; KeySHA256 is its hex SHA-256.
type APIKey struct {
	KeyID     uuid.UUID
	MemberID  uuid.UUID
	Role      domain.Role
	Name      string
	Prefix    string
	KeySHA256 string
	Revoked   bool
}

// CreateAPIKey issues key keyID acting for memberID with role. A key carries
// its member's own role, except that an admin may issue keys of any role.
// Checking that the caller may manage API keys is the caller's authorisation
// step; prefix must be unique in the tenant, revoked keys included, because the
// read model looks keys up by it.
func (m *Membership) CreateAPIKey(keyID, memberID uuid.UUID, role domain.Role, name, prefix, keySHA256 string,
	now time.Time,
) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	switch {
	case keyID == uuid.Nil:
		return nil, domain.Invalid("key_id", "key id is required")
	case memberID == uuid.Nil:
		return nil, domain.Invalid("member_id", "member id is required")
	case role.IsZero():
		return nil, domain.Invalid("role", "role is required")
	}
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if !validKeyPrefix(prefix) {
		return nil, domain.Invalid("prefix", "key prefix must be 1 to %d printable ASCII characters without spaces", maxKeyPrefixLen)
	}
	if !isSHA256Hex(keySHA256) {
		return nil, domain.Invalid("key_sha256", "key hash must be the SHA-256 of the key as 64 lowercase hex characters")
	}
	if _, ok := m.keys[keyID]; ok {
		return nil, domain.Conflict("key id %s is already in use", keyID)
	}
	mem, ok := m.members[memberID]
	if !ok {
		return nil, domain.NotFound("member not found")
	}
	if role != mem.Role && mem.Role != domain.RoleAdmin {
		return nil, domain.Forbidden("keys of members with the %s role must have the %s role; only an admin's key may carry another role",
			mem.Role, mem.Role)
	}
	active := 0
	for _, k := range m.keys {
		if k.Prefix == prefix {
			return nil, domain.Conflict("key prefix %s is already in use", prefix)
		}
		if !k.Revoked {
			active++
		}
	}
	if active >= MaxActiveAPIKeys {
		return nil, domain.LimitExceeded("api_keys",
			"the tenant already has %d active API keys, the most allowed; revoke one first", MaxActiveAPIKeys)
	}
	return []domain.Event{APIKeyCreated{
		KeyID: keyID, MemberID: memberID, Role: role, Name: name, Prefix: prefix, KeySHA256: keySHA256,
	}}, nil
}

// RevokeAPIKey stops key keyID from authenticating.
func (m *Membership) RevokeAPIKey(keyID uuid.UUID, now time.Time) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	k, ok := m.keys[keyID]
	if !ok {
		return nil, domain.NotFound("API key not found")
	}
	if k.Revoked {
		return nil, domain.Conflict("API key %s is already revoked", keyID)
	}
	return []domain.Event{APIKeyRevoked{KeyID: keyID, Reason: KeyRevokedByAdmin}}, nil
}

// revokeKeys returns an APIKeyRevoked with reason for each active key of
// memberID that keep rejects, in key id order so the events are deterministic.
func (m *Membership) revokeKeys(memberID uuid.UUID, reason string, keep func(APIKey) bool) []domain.Event {
	var out []domain.Event
	for _, k := range m.APIKeys() {
		if k.MemberID == memberID && !k.Revoked && !keep(k) {
			out = append(out, APIKeyRevoked{KeyID: k.KeyID, Reason: reason})
		}
	}
	return out
}

// APIKeys returns every API key ever created, revoked ones included, sorted by key id.
func (m *Membership) APIKeys() []APIKey {
	out := slices.Collect(maps.Values(m.keys))
	slices.SortFunc(out, func(a, b APIKey) int { return slices.Compare(a.KeyID[:], b.KeyID[:]) })
	return out
}

// APIKey returns the key with id, revoked or not, if there is one.
func (m *Membership) APIKey(id uuid.UUID) (APIKey, bool) {
	k, ok := m.keys[id]
	return k, ok
}

func validKeyPrefix(s string) bool {
	if s == "" || len(s) > maxKeyPrefixLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// checkKeyName validates the optional label of a key with the rules of a
// tenant name: at most 100 characters of text, no control characters, and no
// leading or trailing spaces, so the stored label is exactly what was typed.
func checkKeyName(name string) error {
	if name == "" {
		return nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxKeyNameLen {
		return domain.Invalid("name", "key name must be at most %d characters of text", maxKeyNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return domain.Invalid("name", "key name must not contain control characters such as newlines or tabs")
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return domain.Invalid("name", "key name must not start or end with spaces")
	}
	return nil
}
