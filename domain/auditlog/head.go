package auditlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Head is a tenant's head, signed or not (AUDIT.md, "Heads").
type Head struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"`
}

const headTag = "tenantry.head.v1"

// Message is the 80 bytes a head's signature covers.
func (h Head) Message() ([]byte, error) {
	hash, err := hex.DecodeString(h.Hash)
	if err != nil || len(hash) != sha256.Size {
		return nil, fmt.Errorf("head hash %q is not 64 hex digits", h.Hash)
	}
	b := make([]byte, 0, 80)
	b = append(b, headTag...)
	b = append(b, h.TenantID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Seq))
	b = append(b, hash...)
	return binary.BigEndian.AppendUint64(b, uint64(h.SignedAt.UnixMicro())), nil
}

// Verify checks the head's signature and key id against pub.
func (h Head) Verify(pub ed25519.PublicKey) error {
	if h.Signature == "" {
		return fmt.Errorf("the head is not signed")
	}
	if h.KeyID != KeyID(pub) {
		return fmt.Errorf("the head was signed with key %q, not %q", h.KeyID, KeyID(pub))
	}
	sig, err := hex.DecodeString(h.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("the signature is not 128 hex digits")
	}
	msg, err := h.Message()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("the signature does not match the head")
	}
	return nil
}

// HeadLine is the export's last line for head, "\n" included.
func HeadLine(head Head) ([]byte, error) {
	b, err := json.Marshal(struct {
		Head Head `json:"head"`
	}{head})
	return append(b, '\n'), err
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer signs heads; a nil *Signer leaves them unsigned.
type Signer struct {
	key ed25519.PrivateKey
}

// String names the key by its public key's id, never its secret: a Signer printed by
// mistake (fmt's %v or %+v, a text log handler; the value or a pointer) shows no key
// material.
func (s Signer) String() string { return "auditlog.Signer(key_id " + KeyID(s.PublicKey()) + ")" }

// GoString is String, for fmt's %#v.
func (s Signer) GoString() string { return s.String() }

// ParseSigningKey reads TENANTRY_AUDIT_SIGNING_KEY: an Ed25519 seed (32 bytes) or private
// key (64 bytes), in hex or standard base64.
func ParseSigningKey(s string) (*Signer, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		raw = b
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return &Signer{key: ed25519.NewKeyFromSeed(raw)}, nil
	case ed25519.PrivateKeySize:
		key := ed25519.PrivateKey(raw)
		if !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
			return nil, fmt.Errorf("not a consistent Ed25519 private key")
		}
		return &Signer{key: key}, nil
	}
	return nil, fmt.Errorf("want an Ed25519 seed (32 bytes) or private key (64 bytes), in hex or base64")
}

// PublicKey returns the key auditors verify with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign returns the head of tenant at (seq, hash), signed now (unsigned if s is nil).
func (s *Signer) Sign(tenant uuid.UUID, seq int64, hash [32]byte, now time.Time) Head {
	h := Head{TenantID: tenant, Seq: seq, Hash: hex.EncodeToString(hash[:]), SignedAt: now.UTC().Truncate(time.Microsecond)}
	if s == nil {
		return h
	}
	msg, _ := h.Message() // the hash is 32 bytes by construction
	h.KeyID = KeyID(s.PublicKey())
	h.Signature = hex.EncodeToString(ed25519.Sign(s.key, msg))
	return h
}
