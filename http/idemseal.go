package httpapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Remembered answers hold secrets (a new API key, an invitation token, the signup key), so
// the idempotency store keeps none of them, nor the client's Idempotency-Key, in plaintext.
// From the key and its owner (tenant and principal) three values are derived, each under a
// label of its own so that none can stand for another:
//
//   - the row's lookup id, a SHA-256 hash: the raw key is never stored;
//   - a MAC key (HKDF-SHA256) for the request fingerprint, so that a stored fingerprint
//     says nothing about a request body without the Idempotency-Key;
//   - an AES-256-GCM key (HKDF-SHA256) sealing the answer, with a random nonce stored
//     beside the ciphertext and the lookup id as additional data (a sealed answer cannot be
//     moved to another row).
//
// Only a client holding the Idempotency-Key (and the same credentials) can find and open an
// answer; whoever reads the database cannot, short of guessing the key, so clients should
// send random keys (a UUID), as the Idempotency-Key draft recommends.
const (
	idemLookupLabel = "tenantry idempotency lookup v1"
	idemMACLabel    = "tenantry idempotency request mac v1"
	idemSealLabel   = "tenantry idempotency response seal v1"
)

// idemSecrets are the values derived from one Idempotency-Key for one tenant and principal.
type idemSecrets struct {
	lookup []byte // row id: SHA-256 over label, owner and key
	mac    []byte // HMAC-SHA256 key for the request fingerprint
	seal   []byte // AES-256-GCM key for the answer
}

// idemOwner encodes tenant and principal unambiguously (length-prefixed principal).
func idemOwner(scope uuid.UUID, principal string) []byte {
	b := make([]byte, 0, 16+4+len(principal))
	b = append(b, scope[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(principal)))
	return append(b, principal...)
}

func deriveIdemSecrets(scope uuid.UUID, principal, key string) (idemSecrets, error) {
	owner := idemOwner(scope, principal)
	h := sha256.New()
	h.Write([]byte(idemLookupLabel))
	h.Write([]byte{0})
	h.Write(owner)
	h.Write([]byte(key))
	mac, err := hkdf.Key(sha256.New, []byte(key), owner, idemMACLabel, 32)
	if err != nil {
		return idemSecrets{}, fmt.Errorf("derive idempotency mac key: %w", err)
	}
	seal, err := hkdf.Key(sha256.New, []byte(key), owner, idemSealLabel, 32)
	if err != nil {
		return idemSecrets{}, fmt.Errorf("derive idempotency seal key: %w", err)
	}
	return idemSecrets{lookup: h.Sum(nil), mac: mac, seal: seal}, nil
}

// requestMAC fingerprints a request (method, path, body) under the key's MAC key.
func (k idemSecrets) requestMAC(method, path string, body []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(method + " " + path + "\n"))
	m.Write(body)
	return m.Sum(nil)
}

// errUnsealed means a stored answer could not be opened: another key, or altered bytes.
var errUnsealed = errors.New("remembered answer cannot be opened with this Idempotency-Key")

// sealAnswer encrypts a content type and body; the plaintext is the content type's length
// (2 bytes), the content type, then the body.
func (k idemSecrets) sealAnswer(contentType string, body []byte) (nonce, sealed []byte, err error) {
	if len(contentType) > 0xffff {
		contentType = contentType[:0xffff]
	}
	aead, err := k.aead()
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("idempotency nonce: %w", err)
	}
	plain := make([]byte, 0, 2+len(contentType)+len(body))
	plain = binary.BigEndian.AppendUint16(plain, uint16(len(contentType)))
	plain = append(plain, contentType...)
	plain = append(plain, body...)
	return nonce, aead.Seal(nil, nonce, plain, k.lookup), nil
}

// openAnswer reverses sealAnswer.
func (k idemSecrets) openAnswer(nonce, sealed []byte) (contentType string, body []byte, err error) {
	aead, err := k.aead()
	if err != nil {
		return "", nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return "", nil, errUnsealed
	}
	plain, err := aead.Open(nil, nonce, sealed, k.lookup)
	if err != nil || len(plain) < 2 {
		return "", nil, errUnsealed
	}
	n := int(binary.BigEndian.Uint16(plain))
	if len(plain) < 2+n {
		return "", nil, errUnsealed
	}
	return string(plain[2 : 2+n]), plain[2+n:], nil
}

func (k idemSecrets) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.seal)
	if err != nil {
		return nil, fmt.Errorf("idempotency cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("idempotency cipher: %w", err)
	}
	return aead, nil
}
