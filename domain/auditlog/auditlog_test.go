package auditlog_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/auditlog"
)

func TestAppendEventLine_WritesTheFixedFieldsThenDataAndMetadataVerbatim(t *testing.T) {
	e := auditlog.Event{
		TenantID: uuid.MustParse("0193a5b0-0000-7000-8000-000000000001"), Seq: 2,
		ID: uuid.MustParse("0193a5b0-0000-7000-8000-000000000002"), StreamID: "usage", StreamVersion: 1,
		Type: "usage.recorded", SchemaVersion: 3, Data: []byte(`{"b": 1, "a": "\u00e9"}`), Metadata: []byte(`{}`),
		RecordedAt: time.Date(2026, 11, 25, 11, 0, 0, 120000000, time.FixedZone("CET", 3600)),
		PrevHash:   [32]byte{0xab}, Hash: [32]byte{0xcd},
	}
	got, err := auditlog.AppendEventLine([]byte("x"), &e)
	if err != nil {
		t.Fatal(err)
	}
	want := `x{"tenant_id":"0193a5b0-0000-7000-8000-000000000001","seq":2,"event_id":"0193a5b0-0000-7000-8000-000000000002",` +
		`"stream_id":"usage","stream_version":1,"type":"usage.recorded","schema_version":3,"recorded_at":"2026-11-25T10:00:00.12Z",` +
		`"prev_hash":"ab` + strings.Repeat("0", 62) + `","hash":"cd` + strings.Repeat("0", 62) + `",` +
		`"data":{"b": 1, "a": "\u00e9"},"metadata":{}}` + "\n"
	if string(got) != want {
		t.Fatalf("line:\n got %s\nwant %s", got, want)
	}
}

func TestHead_ASignedHeadVerifiesAndAnyChangeToItDoesNot(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := auditlog.ParseSigningKey(strings.Repeat("6f", 32))
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.MustParse("0193a5b0-0000-7000-8000-000000000001")
	h := s.Sign(tenant, 7, [32]byte{1, 2}, time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC))
	if err := h.Verify(s.PublicKey()); err != nil {
		t.Fatalf("signed head: %v", err)
	}
	if h.SignedAt.Nanosecond() != 123456000 || h.KeyID != auditlog.KeyID(s.PublicKey()) {
		t.Fatalf("head %+v: signed_at is cut to microseconds and key_id names the key", h)
	}
	changed := map[string]func(*auditlog.Head){
		"Seq":       func(h *auditlog.Head) { h.Seq++ },
		"Hash":      func(h *auditlog.Head) { h.Hash = strings.Repeat("0", 64) },
		"SignedAt":  func(h *auditlog.Head) { h.SignedAt = h.SignedAt.Add(time.Microsecond) },
		"Tenant":    func(h *auditlog.Head) { h.TenantID = uuid.New() },
		"Signature": func(h *auditlog.Head) { h.Signature = strings.Repeat("0", 128) },
		"Unsigned":  func(h *auditlog.Head) { h.Signature = "" },
	}
	for name, change := range changed {
		c := h
		change(&c)
		if err := c.Verify(s.PublicKey()); err == nil {
			t.Errorf("%s: a changed head verified", name)
		}
	}
	if err := h.Verify(other.PublicKey()); err == nil {
		t.Error("a head verified under another key")
	}
	var unsigned *auditlog.Signer
	if u := unsigned.Sign(tenant, 7, [32]byte{1, 2}, time.Now()); u.Signature != "" || u.KeyID != "" {
		t.Errorf("a nil signer signed: %+v", u)
	}
}

func TestParseSigningKey_TakesASeedOrPrivateKeyInHexOrBase64(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 9
	priv := ed25519.NewKeyFromSeed(seed)
	bad := append([]byte(nil), priv...)
	bad[40] ^= 1 // the public half no longer matches the seed
	for name, tc := range map[string]struct {
		in string
		ok bool
	}{
		"SeedHex":        {hex.EncodeToString(seed), true},
		"SeedBase64":     {base64.StdEncoding.EncodeToString(seed), true},
		"PrivateHex":     {" " + hex.EncodeToString(priv) + "\n", true},
		"Inconsistent":   {hex.EncodeToString(bad), false},
		"Short":          {hex.EncodeToString(seed[:31]), false},
		"NotHexOrBase64": {"not a key", false},
		"EmptyIsRefused": {"", false},
	} {
		s, err := auditlog.ParseSigningKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
			continue
		}
		if tc.ok && !s.PublicKey().Equal(priv.Public()) {
			t.Errorf("%s: another key", name)
		}
	}
}

// A Signer printed by mistake, in any of fmt's verbs or by a log handler, shows its key id
// and no byte of the private key.
func TestSigner_PrintsNoKeyMaterial(t *testing.T) {
	seed := strings.Repeat("a7", 32)
	s, err := auditlog.ParseSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "signer", s)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "signer", s)
	priv := hex.EncodeToString(ed25519.NewKeyFromSeed(mustHex(t, seed)))
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", *s), fmt.Sprintf("%x", s), logged.String()} {
		if strings.Contains(out, seed) || strings.Contains(out, priv[:64]) || strings.Contains(out, priv[64:]) ||
			strings.Contains(out, fmt.Sprint(mustHex(t, seed)[:8])[1:20]) {
			t.Fatalf("key material printed: %s", out)
		}
	}
	if want := "auditlog.Signer(key_id " + auditlog.KeyID(s.PublicKey()) + ")"; fmt.Sprint(s) != want {
		t.Fatalf("got %q, want %q", fmt.Sprint(s), want)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
