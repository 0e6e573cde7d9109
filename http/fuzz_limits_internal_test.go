package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
)

// X-Forwarded-For, whatever it holds, names the client by a bounded key: the peer unless
// the peer is a trusted proxy, and never a panic.
func FuzzClientKey_XForwardedFor(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "203.0.113.9, 10.0.0.1", "::1", "2001:db8::1, 127.0.0.1",
		"garbage", ",,,", "1.2.3.4:80", "[::1]:80", "fe80::1%eth0", strings.Repeat("9", 300)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	gin.SetMode(gin.ReleaseMode)
	engines := map[bool]*gin.Engine{}
	for _, trusted := range []bool{false, true} {
		r := gin.New()
		if trusted {
			_ = r.SetTrustedProxies([]string{"127.0.0.0/8"})
		} else {
			_ = r.SetTrustedProxies(nil)
		}
		r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, clientKey(c)) })
		engines[trusted] = r
	}
	f.Fuzz(func(t *testing.T, xff string, trusted bool) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "127.0.0.1:5555"
		req.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		engines[trusted].ServeHTTP(w, req)
		key := w.Body.String()
		if w.Code != http.StatusOK || len(key) > 64 || key == "" {
			t.Fatalf("xff %q: %d %q", xff, w.Code, key)
		}
		if !trusted && key != "127.0.0.1" {
			t.Fatalf("xff %q believed from an untrusted peer: %q", xff, key)
		}
		if key != "unknown" {
			if _, err := netip.ParseAddr(key); err != nil {
				if _, err := netip.ParsePrefix(key); err != nil {
					t.Fatalf("key %q is neither an address nor a prefix", key)
				}
			}
		}
	})
}

// The Authorization header's bearer credential and the API key inside it parse without a
// panic, and only a well-formed key yields a tenant and key id.
func FuzzBearer_APIKey(f *testing.F) {
	for _, s := range []string{"", "Bearer ", "bearer tk_x.y", "Basic abc", "Bearer  tk_" + strings.Repeat("A", 43) + "." + strings.Repeat("B", 43),
		"BEARER " + strings.Repeat("x", 500), "Bearer tk_.", "Bearer tk_AAAA.BBBB\x00"} {
		f.Add(s)
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, header string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Header["Authorization"] = []string{header}
		tok := bearer(c)
		if len(tok) > len(header) {
			t.Fatalf("token longer than its header")
		}
		tenant, id, ok := app.ParseSecret(app.KeyScheme, tok)
		if ok && (len(tok) > 200 || !strings.HasPrefix(tok, app.KeyScheme) || tenant == uuid.Nil || id == uuid.Nil) {
			t.Fatalf("accepted %q", tok)
		}
	})
}
