package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// Failed authentications are limited per client address (clientKey): each bad credential
// (a malformed, unknown or revoked API key, a wrong operator token, an invitation token
// that names no invitation) spends one
// of authFailureBudget tokens, refilled evenly over authFailureWindow. A client without
// tokens left gets 429 with Retry-After for every request that presents a credential,
// before the credential is looked at, so guessing costs neither a database lookup nor a
// comparison, and a right guess is not told apart from a wrong one. Only an API key this
// process already holds as valid (it costs nothing to check) still passes, so that other
// clients behind the same address (a NAT) keep working.
const (
	authFailureBudget = 10
	authFailureWindow = time.Minute
	// maxAuthClients bounds the memory of the failure counts (about 200 bytes a client);
	// beyond it the client that failed least recently is forgotten.
	maxAuthClients = 100_000
)

type authFailures struct {
	mu sync.Mutex
	m  *lru[string, *rate.Limiter]
}

func newAuthFailures() *authFailures {
	return &authFailures{m: newLRU[string, *rate.Limiter](maxAuthClients)}
}

// blocked reports whether client has no failures left, and when it will have one.
func (f *authFailures) blocked(client string, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim, ok := f.m.get(client)
	if !ok {
		return 0, false
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second)), true
}

// failed spends one of client's failures.
func (f *authFailures) failed(client string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim, ok := f.m.get(client)
	if !ok {
		lim = rate.NewLimiter(rate.Every(authFailureWindow/authFailureBudget), authFailureBudget)
		f.m.put(client, lim)
	}
	lim.AllowN(now, 1)
}

// admitCredential refuses, with 429, a request that presents a credential from a client
// that spent its failure budget, unless the credential is an API key known valid here.
//
// sum is secretSum of the credential, which the caller hashes once for this and for
// resolveKey.
func (s *Server) admitCredential(c *gin.Context, sum [32]byte) bool {
	now := time.Now()
	// A key known valid is admitted first: that is every request of a busy client, which
	// then costs no finding of its address.
	if s.creds.known(sum, now) {
		return true
	}
	wait, blocked := s.authFails.blocked(clientKey(c), now)
	if !blocked {
		return true
	}
	retryAfter(c, wait)
	fail(c, http.StatusTooManyRequests, "rate-limited",
		"too many failed authentications from this address (at most "+strconv.Itoa(authFailureBudget)+
			" a minute); retry after the delay in Retry-After")
	return false
}

// refuseCredential answers 401 for a bad credential and counts the failure against the
// client.
func (s *Server) refuseCredential(c *gin.Context, detail string, errs ...FieldError) {
	s.authFailed(c)
	fail(c, http.StatusUnauthorized, "unauthenticated", detail, errs...)
}

// authFailed counts a failed authentication against the request's client.
func (s *Server) authFailed(c *gin.Context) { s.authFails.failed(clientKey(c), time.Now()) }
