package webhook_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/webhook"
)

// An endpoint URL is accepted only when it is absolute http(s) with a host, without
// credentials or fragment, and http only for a loopback host or when allowed; nothing
// panics on any input.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://example.com/h", "http://127.0.0.1:9/h", "http://localhost/x", "http://[::1]:80/",
		"http://example.com/", "https://user:pw@example.com/", "https://example.com/#frag", "ftp://example.com/", "//example.com",
		"https:opaque", "https://", "HTTPS://EXAMPLE.COM/", "http://127.0.0.1.nip.io/", "http://0x7f000001/", "https://ex%41mple.com/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		if webhook.ValidateURL(raw, allowHTTP) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
			t.Fatalf("accepted %q", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			h := u.Hostname()
			if !allowHTTP && !strings.EqualFold(h, "localhost") && !strings.HasPrefix(h, "127.") && h != "::1" &&
				!strings.HasPrefix(h, "::ffff:127.") {
				t.Fatalf("accepted plain http to a non-loopback host: %q", raw)
			}
		default:
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
	})
}

// A signature made with a secret verifies the same body, and fails for any other body; a
// header that verifies must carry the body's own MAC; nothing panics on any header.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=00", []byte(`{"id":"x"}`), "whsec_a")
	f.Add("", []byte{}, "")
	f.Add("t=,v1=zz,v1=,=,,t=1800000000", []byte("{}"), "whsec_b")
	f.Add(webhook.Sign(now, []byte(`{"a":1}`), "whsec_c"), []byte(`{"a":1}`), "whsec_c")
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string) {
		if err := webhook.Verify(header, body, secret, 5*time.Minute, now); err == nil {
			own := webhook.Sign(now, body, secret) // t=<now>,v1=<mac>: the MAC for this body at now
			_, mac, _ := strings.Cut(own, "v1=")
			if !strings.Contains(header, "v1=") || (strings.Contains(header, "t=1800000000") && !strings.Contains(strings.ToLower(header), mac)) {
				t.Fatalf("verified a header without the body's MAC: %q", header)
			}
		}
		signed := webhook.Sign(now, body, secret)
		if err := webhook.Verify(signed, body, secret, 5*time.Minute, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		other := append(bytes.Clone(body), 'x')
		if webhook.Verify(signed, other, secret, 5*time.Minute, now) == nil {
			t.Fatal("a signature verified another body")
		}
		if webhook.Verify(signed, body, secret, 5*time.Minute, now.Add(6*time.Minute)) == nil {
			t.Fatal("a signature verified outside the tolerance")
		}
	})
}

// A key is accepted only as 32 bytes of hex or base64, and an accepted key opens what it
// sealed for the same endpoint only.
func FuzzParseKey(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("  " + strings.Repeat("A", 43) + "=\n")
	f.Add("not a key")
	f.Add(strings.Repeat("0", 63))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := webhook.ParseKey(s)
		if err != nil {
			return
		}
		a, b := uuid.New(), uuid.New()
		sealed, err := k.Seal(a, "whsec_secret")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(a, sealed); err != nil || got != "whsec_secret" {
			t.Fatalf("open: %q %v", got, err)
		}
		if _, err := k.Open(b, sealed); err == nil {
			t.Fatal("a sealed secret opened for another endpoint")
		}
	})
}
