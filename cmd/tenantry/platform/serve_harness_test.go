package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/webhook"
)

// served is `tenantry serve` running in the test on its own port, until stop (at the
// latest when the test ends).
type served struct {
	t      *testing.T
	ctx    context.Context // ends when serve is told to stop
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// launchServe runs serve with env (TENANTRY_ADDR set to a free port unless given) and waits
// until it is ready.
func launchServe(t *testing.T, env map[string]string) *served {
	t.Helper()
	if env["TENANTRY_ADDR"] == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		env["TENANTRY_ADDR"] = ln.Addr().String()
		require.NoError(t, ln.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{t: t, ctx: ctx, addr: env["TENANTRY_ADDR"], cancel: cancel, done: make(chan error, 1)}
	go func() { _, err := run(t, ctx, env, "serve"); s.done <- err }()
	t.Cleanup(func() { _ = s.shutdown() })
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + s.addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	return s
}

// stop shuts serve down, waits for it and requires a clean exit.
func (s *served) stop() { require.NoError(s.t, s.shutdown()) }

func (s *served) shutdown() error {
	s.once.Do(func() { s.cancel(); s.err = <-s.done })
	return s.err
}

// call sends a JSON request and requires a 2xx answer, which it returns decoded.
func (s *served) call(method, path, token string, body any) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, "http://"+s.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Less(s.t, res.StatusCode, 300, "%s %s: %s", method, path, raw)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// received is one webhook request a receiver got.
type received struct {
	path, sig string
	body      []byte
}

// receiver is a webhook endpoint that answers 204 and keeps what it got.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.URL.Path, req.Header.Get(webhook.SignatureHeader), b})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// received returns a copy of what the receiver got so far.
func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}
