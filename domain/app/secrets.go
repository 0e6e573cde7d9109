package app

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Secrets. An API key is "tk_" + base64url(tenant id ‖ key id) + "." + base64url(32 random
// bytes); an invitation token has the same shape with "inv_". The part before the dot is
// the lookup prefix: it names the tenant and the key, so a key is checked inside its own
// tenant's read models, never by a search across tenants. Only the SHA-256 of the whole
// secret is stored (and compared in constant time by whoever authenticates it).
const (
	KeyScheme        = "tk_"
	InvitationScheme = "inv_"
)

var secretEncoding = base64.RawURLEncoding

// NewSecret returns a fresh secret for tenant and id, its lookup prefix and its SHA-256 hex.
func NewSecret(scheme string, tenant, id uuid.UUID) (secret, prefix, sum string, err error) {
	var random [32]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", "", "", err
	}
	prefix = scheme + secretEncoding.EncodeToString(append(tenant[:], id[:]...))
	secret = prefix + "." + secretEncoding.EncodeToString(random[:])
	h := sha256.Sum256([]byte(secret))
	return secret, prefix, hex.EncodeToString(h[:]), nil
}

// ParseSecret splits a secret into its tenant and id; ok is false for anything malformed.
func ParseSecret(scheme, secret string) (tenant, id uuid.UUID, ok bool) {
	rest, found := strings.CutPrefix(secret, scheme)
	if !found || len(secret) > 200 {
		return uuid.Nil, uuid.Nil, false
	}
	head, tail, found := strings.Cut(rest, ".")
	if !found {
		return uuid.Nil, uuid.Nil, false
	}
	ids, err := secretEncoding.DecodeString(head)
	if err != nil || len(ids) != 32 {
		return uuid.Nil, uuid.Nil, false
	}
	if r, err := secretEncoding.DecodeString(tail); err != nil || len(r) != 32 {
		return uuid.Nil, uuid.Nil, false
	}
	copy(tenant[:], ids[:16])
	copy(id[:], ids[16:])
	return tenant, id, tenant != uuid.Nil && id != uuid.Nil
}

// NewKey is a freshly minted API key as the ports show it: the secret is in this answer only.
type NewKey struct {
	ID       uuid.UUID `json:"id"`
	Key      string    `json:"key"` // shown once
	Prefix   string    `json:"prefix"`
	Role     string    `json:"role"`
	MemberID uuid.UUID `json:"member_id"`
	Name     string    `json:"name"`
}

// mintKey mints the secret of API key keyID of tenant.
func mintKey(tenant, keyID uuid.UUID) (secret, prefix, sum string, err error) {
	secret, prefix, sum, err = NewSecret(KeyScheme, tenant, keyID)
	if err != nil {
		return "", "", "", fmt.Errorf("mint API key %s: %w", keyID, err)
	}
	return secret, prefix, sum, nil
}
