package domain

import (
	"crypto/sha256"

	"github.com/google/uuid"
)

// DeriveID returns the event id that an outside key (a client's idempotency key, a Stripe
// event id) maps to within tenant, so that a retry or a redelivery reproduces the id and the
// event store recognises it: the first 16 bytes of SHA-256(namespace || tenant || key), with
// the RFC 9562 version 8 (custom) and variant bits set. namespace separates the uses and
// versions the derivation; it and the tenant have fixed lengths per use, so distinct inputs
// never hash the same bytes.
func DeriveID(namespace string, tenant uuid.UUID, key string) uuid.UUID {
	h := sha256.New()
	h.Write([]byte(namespace))
	h.Write(tenant[:])
	h.Write([]byte(key))
	var id uuid.UUID
	copy(id[:], h.Sum(nil))
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	return id
}
