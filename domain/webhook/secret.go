// Package webhook holds the pure parts of Tenantry's signed outbound webhooks: signing
// secrets and their sealing at rest, the Tenantry-Signature header (the Stripe scheme, so
// existing verifiers work), endpoint URL rules, the delivery body and the retry schedule.
// It does no I/O beyond reading randomness.
package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// SecretPrefix starts every signing secret, so a leaked one is recognisable.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: SecretPrefix and 32 random bytes in base64
// (URL alphabet, no padding). The whole string, prefix included, is the HMAC key.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Key is the deployment's key (TENANTRY_WEBHOOK_KEY) that seals signing secrets at rest.
type Key struct{ aead cipher.AEAD }

// ErrNoKey means the deployment has no webhook key: secrets can be neither sealed nor opened.
var ErrNoKey = errors.New("no webhook key configured (TENANTRY_WEBHOOK_KEY or TENANTRY_WEBHOOK_KEY_FILE)")

// ParseKey reads a 32-byte key written in hex (64 digits) or base64 (standard or URL
// alphabet, padded or not); surrounding white space is ignored.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		raw = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return nil, errors.New("webhook key must be 32 bytes written in hex (64 digits) or base64")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webhook key: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Seal encrypts secret for endpoint with AES-256-GCM (nonce || ciphertext), the endpoint id
// as additional data so a sealed secret copied to another endpoint's row does not open.
func (k *Key) Seal(endpoint uuid.UUID, secret string) ([]byte, error) {
	if k == nil {
		return nil, ErrNoKey
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, []byte(secret), endpoint[:]), nil
}

// Open decrypts what Seal sealed for endpoint.
func (k *Key) Open(endpoint uuid.UUID, sealed []byte) (string, error) {
	if k == nil {
		return "", ErrNoKey
	}
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("open webhook secret: sealed value too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], endpoint[:])
	if err != nil {
		return "", fmt.Errorf("open webhook secret of endpoint %s: %w", endpoint, err)
	}
	return string(plain), nil
}
