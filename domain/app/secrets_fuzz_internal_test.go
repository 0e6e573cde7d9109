package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzParseSecret: API keys and invitation tokens ("tk_"/"inv_" + base64url(tenant ‖ id) +
// "." + base64url(32 bytes)). A secret parses only in its own scheme, at most 200 bytes,
// to the non-nil ids its prefix encodes, with a 32-byte random part; a fresh secret always
// parses back to its ids. (base64's spare bits let a few spellings parse to the same ids;
// none of them authenticates, as only the SHA-256 of the issued secret is stored.)
func FuzzParseSecret(f *testing.F) {
	tenant, id := uuid.MustParse("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"), uuid.MustParse("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0c")
	for _, scheme := range []string{KeyScheme, InvitationScheme} {
		s, _, _, err := NewSecret(scheme, tenant, id)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s, tenant[:], id[:])
		f.Add(s+"=", tenant[:], id[:])
		f.Add(strings.Replace(s, ".", "..", 1), tenant[:], id[:])
	}
	f.Add("tk_", []byte{}, []byte{})
	f.Add("tk_.", []byte{1}, []byte{2})
	f.Add("inv_"+strings.Repeat("A", 300), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, secret string, rawTenant, rawID []byte) {
		for _, scheme := range []string{KeyScheme, InvitationScheme} {
			ten, kid, ok := ParseSecret(scheme, secret)
			if !ok {
				continue
			}
			if ten == uuid.Nil || kid == uuid.Nil || len(secret) > 200 || !strings.HasPrefix(secret, scheme) {
				t.Fatalf("ParseSecret(%q, %q) accepted tenant %s, id %s", scheme, secret, ten, kid)
			}
			head, tail, _ := strings.Cut(strings.TrimPrefix(secret, scheme), ".")
			ids, err := secretEncoding.DecodeString(head)
			random, err2 := secretEncoding.DecodeString(tail)
			if err != nil || err2 != nil || !bytes.Equal(ids, append(ten[:], kid[:]...)) || len(random) != 32 {
				t.Fatalf("ParseSecret(%q, %q) accepted %s/%s from prefix %q and a %d-byte random part", scheme, secret, ten, kid, head, len(random))
			}
		}
		// A fresh secret for any ids parses back to them, in its own scheme only.
		var ten, kid uuid.UUID
		copy(ten[:], rawTenant)
		copy(kid[:], rawID)
		if ten == uuid.Nil || kid == uuid.Nil {
			return
		}
		s, prefix, _, err := NewSecret(KeyScheme, ten, kid)
		if err != nil {
			t.Fatal(err)
		}
		gotT, gotK, ok := ParseSecret(KeyScheme, s)
		if !ok || gotT != ten || gotK != kid || !strings.HasPrefix(s, prefix+".") {
			t.Fatalf("a fresh key %q parsed to %s/%s/%v", s, gotT, gotK, ok)
		}
		if _, _, ok := ParseSecret(InvitationScheme, s); ok {
			t.Fatalf("a key %q parsed as an invitation token", s)
		}
	})
}
