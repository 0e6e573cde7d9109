package httpapi_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/app"
	httpapi "github.com/tenantry/tenantry/http"
)

// metricValue reads one series' value from /metrics (0 when absent).
func (a *api) metricValue(series string) float64 {
	a.t.Helper()
	r := a.do(req{method: "GET", path: "/metrics"})
	require.Equal(a.t, http.StatusOK, r.status)
	for _, line := range strings.Split(string(r.raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(a.t, err)
			return n
		}
	}
	return 0
}

func (a *api) metricsSize() int {
	a.t.Helper()
	r := a.do(req{method: "GET", path: "/metrics"})
	require.Equal(a.t, http.StatusOK, r.status)
	return len(r.raw)
}

func randomLetters(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[k.Int64()]
	}
	return string(b)
}

// bogusKey is a well-formed API key of a tenant and key nobody created.
func bogusKey() string {
	ids, secret := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(ids)
	_, _ = rand.Read(secret)
	return "tk_" + base64.RawURLEncoding.EncodeToString(ids) + "." + base64.RawURLEncoding.EncodeToString(secret)
}

// Methods and paths are chosen by clients; /metrics labels must not be.
func TestMetrics_RandomMethodsAndPathsAddNoSeries(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// Every bounded series exists once before measuring.
	a.do(req{method: "GET", path: "/no/such/route"})
	a.do(req{method: "BREW", path: "/healthz"})
	a.do(req{method: "BREW", path: "/no/such/route"})
	before := a.metricsSize()
	for i := 0; i < 20; i++ {
		m := randomLetters(2048)
		r := a.do(req{method: m, path: "/healthz"})
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
		r = a.do(req{method: m, path: "/v1/" + randomLetters(64)})
		require.Equal(t, http.StatusNotFound, r.status)
		r = a.do(req{method: "GET", path: "/" + randomLetters(512)})
		require.Equal(t, http.StatusNotFound, r.status)
	}
	after := a.metricsSize()
	require.Less(t, after-before, 2048, "/metrics grew from %d to %d bytes", before, after)
	r := a.do(req{method: "GET", path: "/metrics"})
	require.Contains(t, string(r.raw), `method="OTHER"`)
	require.Contains(t, string(r.raw), `route="unmatched"`)
}

// A client sending bogus API keys spends its failure budget, then gets 429 without the
// server looking the keys up.
func TestAuth_BogusKeysFromOneAddressAreRefusedWithoutLookupsAfterTheBudget(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := 0; i < httpapi.AuthFailureBudget; i++ {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey()})
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	}
	lookups := a.metricValue("tenantry_api_key_lookups_total")
	require.LessOrEqual(t, lookups, float64(httpapi.AuthFailureBudget))
	for i := 0; i < 50; i++ {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey()})
		require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
		require.Equal(t, "rate-limited", r.problemType())
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
	require.Equal(t, lookups, a.metricValue("tenantry_api_key_lookups_total"), "refused keys cost no lookup")
}

// The same bogus key, repeated, is looked up once: it is remembered as invalid briefly.
func TestAuth_ARepeatedBogusKeyIsLookedUpOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	key := bogusKey()
	before := a.metricValue("tenantry_api_key_lookups_total")
	for i := 0; i < 5; i++ {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: key})
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	}
	require.Equal(t, before+1, a.metricValue("tenantry_api_key_lookups_total"))
}

// Wrong operator tokens are limited the same way, and once limited even the right token is
// refused, so guessing tells nothing.
func TestAuth_WrongOperatorTokensAreLimited(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := 0; i < httpapi.AuthFailureBudget; i++ {
		r := a.do(req{method: "GET", path: "/v1/admin/tenants", token: "wrong-operator-token-" + strconv.Itoa(i)})
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	}
	for _, tok := range []string{"wrong-operator-token-x", operatorToken} {
		r := a.do(req{method: "GET", path: "/v1/admin/tenants", token: tok})
		require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
	// Member routes do not compare against the operator token for a limited client either.
	r := a.do(req{method: "GET", path: "/v1/tenant", token: operatorToken})
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
}

// X-Forwarded-For names the client only when the peer is a configured proxy.
func TestAuth_XForwardedForIsHonouredOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("Untrusted", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t)
		for i := 0; i < httpapi.AuthFailureBudget; i++ {
			r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(),
				header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}})
			require.Equal(t, http.StatusUnauthorized, r.status)
		}
		r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(),
			header: map[string]string{"X-Forwarded-For": "198.51.100.77"}})
		require.Equal(t, http.StatusTooManyRequests, r.status, "a client cannot pick a fresh address")
	})
	t.Run("Trusted", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, func(d *httpapi.Deps) {
			d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		for i := 0; i < httpapi.AuthFailureBudget; i++ {
			r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(),
				header: map[string]string{"X-Forwarded-For": "203.0.113.9"}})
			require.Equal(t, http.StatusUnauthorized, r.status)
		}
		r := a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(), header: map[string]string{"X-Forwarded-For": "203.0.113.9"}})
		require.Equal(t, http.StatusTooManyRequests, r.status)
		r = a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(), header: map[string]string{"X-Forwarded-For": "203.0.113.10"}})
		require.Equal(t, http.StatusUnauthorized, r.status, "another client behind the proxy has its own budget")
		// IPv6 clients are counted by /64.
		for i := 0; i < httpapi.AuthFailureBudget; i++ {
			a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(),
				header: map[string]string{"X-Forwarded-For": fmt.Sprintf("2001:db8:1:2::%x", i+1)}})
		}
		r = a.do(req{method: "GET", path: "/v1/tenant", token: bogusKey(), header: map[string]string{"X-Forwarded-For": "2001:db8:1:2:ffff::1"}})
		require.Equal(t, http.StatusTooManyRequests, r.status)
	})
}

// Anonymous routes are limited per client address, which X-Forwarded-For cannot change
// without a trusted proxy.
func TestRateLimit_AnonymousClientsCannotChooseTheirBucket(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	limited := 0
	for i := 0; i < 40; i++ {
		r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": "inv_nope"},
			header: map[string]string{"X-Forwarded-For": fmt.Sprintf("10.%d.%d.1", i/250, i%250)}})
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	require.Positive(t, limited)
	require.LessOrEqual(t, httpapi.LimiterBuckets(a.server), 1)
}

// rawRequest writes head (and body) on a fresh connection and reads one response.
func dial(t *testing.T, a *api) net.Conn {
	t.Helper()
	u, err := url.Parse(a.url)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedWithin reports whether the server closes conn within d (reading discards data).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true // EOF or reset: closed
}

func shortTimeouts(d *httpapi.Deps) {
	d.Timeouts = httpapi.Timeouts{ReadHeader: 500 * time.Millisecond, Read: 700 * time.Millisecond,
		Write: 700 * time.Millisecond, Idle: 700 * time.Millisecond}
}

// A body dribbled slower than the read timeout does not keep its connection open.
func TestServer_ASlowBodyIsCutOffAfterTheReadTimeout(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shortTimeouts)
	conn := dial(t, a)
	_, err := fmt.Fprintf(conn, "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn)
	}()
	for time.Since(start) < 5*time.Second {
		select {
		case <-closed:
			require.Less(t, time.Since(start), 3*time.Second)
			return
		case <-time.After(100 * time.Millisecond):
			_, _ = conn.Write([]byte(" "))
		}
	}
	t.Fatal("the connection was still open after 5 s of a dribbled body")
}

// An idle keep-alive connection is closed after the idle timeout.
func TestServer_AnIdleKeepAliveConnectionIsClosed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shortTimeouts)
	conn := dial(t, a)
	_, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, closedWithin(conn, 3*time.Second), "still open 3 s after its last answer")
}

// A body over 1 MiB gets the 413 problem, not a reset, however the client sends it. The
// client here sends its whole body before it reads, and reads only after the server has
// finished with the connection, as ordinary clients do: sending must not fail with a broken
// pipe, and the answer must be waiting for it.
func TestServer_AnOversizedBodyGetsA413Reliably(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := strings.Repeat("x", 3<<19) // 1.5 MiB
	round := func(chunked bool) error {
		u, _ := url.Parse(a.url)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.(*net.TCPConn).SetWriteBuffer(64 << 10) // as on a real network: the body does not fit in flight
		head := "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + operatorToken + "\r\n"
		if chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		} else {
			head += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		w := bufio.NewWriter(conn)
		_, _ = w.WriteString(head)
		if chunked {
			for off := 0; off < len(body); off += 64 << 10 {
				part := body[off:min(off+64<<10, len(body))]
				_, _ = fmt.Fprintf(w, "%x\r\n%s\r\n", len(part), part)
			}
			_, _ = w.WriteString("0\r\n\r\n")
		} else {
			_, _ = w.WriteString(body)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("chunked=%v: sending the body: %w", chunked, err) // what clients report
		}
		time.Sleep(800 * time.Millisecond) // the server is done with the connection by now
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return fmt.Errorf("chunked=%v: reading the answer: %w", chunked, err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("chunked=%v: reading the answer's body: %w", chunked, err)
		}
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "payload-too-large") {
			return fmt.Errorf("chunked=%v: %d %s", chunked, res.StatusCode, raw)
		}
		return nil
	}
	errs := make(chan error, 100)
	sem := make(chan struct{}, 20)
	for i := 0; i < 100; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- round(i%2 == 1)
		}()
	}
	for i := 0; i < 100; i++ {
		require.NoError(t, <-errs)
	}
}

// Invitation tokens are credentials too: guessing them is limited the same way.
func TestAuth_BogusInvitationTokensAreLimited(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := 0; i < httpapi.AuthFailureBudget; i++ {
		r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": "inv" + strings.TrimPrefix(bogusKey(), "tk")}})
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, r.status, string(r.raw))
	}
	r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": "inv" + strings.TrimPrefix(bogusKey(), "tk")}})
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.NotEmpty(t, r.header.Get("Retry-After"))
}

// A client that waits for "100 Continue" before sending an oversized body is told 413 at
// once, without being asked for the body.
func TestServer_AnOversizedBodyAnnouncedWithExpectContinueIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	conn := dial(t, a)
	_, err := fmt.Fprintf(conn, "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", 3<<19)
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
}

// keyUnder is a well-formed API key naming tenant and key id, with a random secret.
func keyUnder(tenant, keyID uuid.UUID) string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return "tk_" + base64.RawURLEncoding.EncodeToString(append(tenant[:], keyID[:]...)) + "." +
		base64.RawURLEncoding.EncodeToString(secret)
}

// Random secrets under one key id that does not exist cost one lookup, not one each: the
// key id is remembered as unknown briefly, in a real tenant and in one with no read models.
// A wrong secret for a key that exists does not make the key id unknown: the right secret
// still works at once.
func TestAuth_RandomSecretsUnderOneUnknownKeyIDAreLookedUpOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	tenantID := uuid.MustParse(ten.id)
	for _, owner := range []uuid.UUID{tenantID, uuid.Must(uuid.NewV7())} {
		keyID := uuid.Must(uuid.NewV7())
		before := a.metricValue("tenantry_api_key_lookups_total")
		for i := 0; i < 3; i++ {
			r := a.do(req{method: "GET", path: "/v1/tenant", token: keyUnder(owner, keyID)})
			require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
		}
		require.Equal(t, before+1, a.metricValue("tenantry_api_key_lookups_total"),
			"tenant %s: one lookup for three secrets under one unknown key id", owner)
	}

	_, realKeyID, ok := app.ParseSecret(app.KeyScheme, ten.key)
	require.True(t, ok)
	r := a.do(req{method: "GET", path: "/v1/tenant", token: keyUnder(tenantID, realKeyID)})
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	r = a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, "a wrong secret does not lock the real key out: %s", r.raw)
}
