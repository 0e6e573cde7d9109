package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/app/logctx"
	"github.com/tenantry/tenantry/eventstore"
)

// call is what the pipeline learned about a request before its handler runs.
type call struct {
	route    *route
	tenant   uuid.UUID            // resolved tenant (tenant-scoped routes)
	tenantID string               // tenant formatted, once (tenantString; the credential cache has it formatted)
	status   string               // the tenant's status
	plan     string               // the tenant's plan
	planV    int                  // the tenant's plan version
	role     domain.Role          // the API key's role
	keyID    uuid.UUID            // the API key (member routes)
	member   uuid.UUID            // the key's member
	actor    string               // for event metadata and idempotency: "key:<id>", "operator" or "anonymous"
	body     []byte               // the raw body (POST, PUT, PATCH)
	slot     atomic.Pointer[gate] // the tenant's fairness slot the request holds (nil: none)
}

// tenantString is the tenant formatted, formatting it at most once per request ("" when none).
func (cl *call) tenantString() string {
	if cl.tenantID == "" && cl.tenant != uuid.Nil {
		cl.tenantID = cl.tenant.String()
	}
	return cl.tenantID
}

// yield gives up the tenant's fairness slot, if the request holds it, before the request
// waits on the database (see fairness); the pipeline calls it again when the request ends.
func (cl *call) yield() {
	if g := cl.slot.Swap(nil); g != nil { // once, whoever calls it
		g.release()
	}
}

// bearer returns the request's bearer credential, or "".
func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) isOperator(token string) bool {
	return s.d.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.d.OperatorToken)) == 1
}

// authenticateKey checks an API key against its tenant's read models (through credCache).
func (s *Server) authenticateKey(c *gin.Context, key string, sum [32]byte, cl *call) bool {
	e, verdict, err := s.resolveKey(c, key, sum)
	switch {
	case err != nil:
		s.failErr(c, err)
		return false
	case verdict == keyMalformed:
		s.refuseCredential(c, "the bearer credential is not a valid API key")
		return false
	case verdict == keyKnownBad:
		// Known bad: refused at no cost, and not counted as another failure (it guesses
		// nothing new), so a client retrying a revoked key is told 401, not 429.
		fail(c, http.StatusUnauthorized, "unauthenticated", "the API key is not valid")
		return false
	case verdict == keyInvalid:
		s.refuseCredential(c, "the API key is not valid")
		return false
	}
	cl.tenant, cl.keyID, cl.member, cl.role, cl.status, cl.plan, cl.planV = e.tenant, e.keyID, e.member, e.role, e.status, e.plan, e.planVersion
	cl.actor, cl.tenantID = e.actor, e.tenantID
	return true
}

// keyVerdict is what resolveKey found of a presented API key.
type keyVerdict int

const (
	keyValid     keyVerdict = iota // a key of its tenant, not revoked (whatever the tenant's status)
	keyMalformed                   // not shaped as an API key: a failure to count
	keyKnownBad                    // found invalid less than credTTL ago: refused at no cost, not counted again
	keyInvalid                     // unknown, revoked or of a tenant without read models: a failure to count
)

// resolveKey looks an API key up through credCache, as every authentication does (and
// introspection, so that both see a change within the same bound): the cached entry
// while it is fresh (refreshed in the background once half its TTL old), else one lookup
// shared by everyone who needs the same key at the same time. An error is the lookup's
// (the database, or the tenant's authorisation state not to be trusted).
//
// sum is secretSum(key), the cache key (it covers the tenant and key id too).
func (s *Server) resolveKey(ctx context.Context, key string, sum [32]byte) (cachedCred, keyVerdict, error) {
	now := time.Now()
	// A cached secret was parsed when it was looked up (only a well-formed secret is ever
	// cached, valid or bad), so a hit needs no parsing.
	e, state, refresh := s.creds.lookup(sum, now)
	switch state {
	case credBad:
		return cachedCred{}, keyKnownBad, nil
	case credUnknown:
		return cachedCred{}, keyInvalid, nil
	case credValid:
		if refresh {
			go s.refreshKey(sum, e.tenant, e.keyID, e.tenantID)
		}
		return e, keyValid, nil
	}
	tenant, keyID, ok := app.ParseSecret(app.KeyScheme, key)
	if !ok {
		return cachedCred{}, keyMalformed, nil
	}
	if s.creds.isUnknownKey(tenant, keyID, now) {
		// No such key a moment ago: refused without a lookup whatever the secret, and
		// counted, as any new guess is.
		return cachedCred{}, keyInvalid, nil
	}
	e, valid, err := s.sharedLookup(context.WithoutCancel(ctx), sum, tenant, keyID)
	switch {
	case err != nil:
		return cachedCred{}, keyValid, err
	case !valid:
		return cachedCred{}, keyInvalid, nil
	}
	return e, keyValid, nil
}

// refreshKey looks a cached key up again in the background, as resolveKey asked (a
// method rather than a closure there: one capturing the entry would move it to the heap on
// every request).
func (s *Server) refreshKey(sum [32]byte, tenant, keyID uuid.UUID, tenantID string) {
	_, valid, err := s.sharedLookup(logctx.With(context.Background(), "tenant_id", tenantID), sum, tenant, keyID)
	if err != nil {
		s.d.Logger.Warn("refreshing a cached API key failed", "tenant_id", tenantID, "err", err)
	}
	// A failed lookup keeps the entry until it expires (the database may be briefly
	// unreachable), except when the tenant is unavailable: that drops it at once.
	s.creds.refreshed(sum, valid || (err != nil && !errors.Is(err, errTenantUnavailable)))
}

// credLookupTimeout bounds one credential lookup shared by several requests.
const credLookupTimeout = 5 * time.Second

// sharedLookup is lookupCred, shared by everyone who needs the same key looked up at the
// same time (requests that missed the cache, and its background refresh); no caller's
// cancellation ends it for the others.
func (s *Server) sharedLookup(ctx context.Context, sum [32]byte, tenant, keyID uuid.UUID) (cachedCred, bool, error) {
	type found struct {
		e     cachedCred
		valid bool
	}
	v, err, _ := s.credLookups.Do(string(sum[:]), func() (any, error) {
		ctx, cancel := context.WithTimeout(ctx, credLookupTimeout)
		defer cancel()
		e, valid, err := s.lookupCred(ctx, sum, tenant, keyID)
		return found{e, valid}, err
	})
	if err != nil {
		return cachedCred{}, false, err
	}
	f := v.(found)
	return f.e, f.valid, nil
}

// lookupCred reads API key keyID of tenant from the read models and caches it: valid is
// false when no usable key has the secret whose hash is sum (unknown, revoked, or the
// tenant not provisioned yet).
func (s *Server) lookupCred(ctx context.Context, sum [32]byte, tenant, keyID uuid.UUID) (e cachedCred, valid bool, err error) {
	gen, now := s.creds.generation(), time.Now()
	s.metrics.keyLookups.Inc()
	var cred eventstore.Credential
	err = s.d.Store.InTenant(ctx, tenant, true, func(tx *eventstore.Tx) error {
		// Fail closed: an auth projection that is stopped, or behind an event recorded more
		// than AuthLagBound ago, may be missing a revocation, a removal or a suspension, so
		// none of its credentials is served.
		if err := s.requireAuthFresh(ctx, tx); err != nil {
			return err
		}
		var err error
		cred, err = tx.Credential(ctx, keyID)
		return err
	})
	switch {
	case errors.Is(err, eventstore.ErrNoCredential) || errors.Is(err, eventstore.ErrNotProvisioned):
		s.creds.putBad(sum, tenant, now, gen)
		s.creds.putUnknownKey(tenant, keyID, now, gen) // any secret under this key id
		return cachedCred{}, false, nil
	case err != nil:
		return cachedCred{}, false, err
	case subtle.ConstantTimeCompare(sum[:], cred.KeyHash) != 1 || cred.Revoked:
		s.creds.putBad(sum, tenant, now, gen)
		return cachedCred{}, false, nil
	}
	role, err := domain.ParseRole(cred.Role)
	if err != nil {
		return cachedCred{}, false, err
	}
	e = cachedCred{tenant: tenant, keyID: keyID, member: cred.MemberID, role: role,
		status: cred.TenantStatus, plan: cred.Plan, planVersion: cred.PlanVersion, slug: cred.Slug,
		tenantID: tenant.String(), actor: "key:" + keyID.String()}
	s.creds.put(sum, e, now, gen)
	s.slugs.Store(cred.Slug, tenant)
	return e, true, nil
}

// requireAuthFresh fails with errTenantUnavailable (errAuthBehind when it only lags) unless
// the tenant's authorisation state can be trusted: its auth projection is not stopped and
// has applied every event recorded more than AuthLagBound ago.
func (s *Server) requireAuthFresh(ctx context.Context, tx *eventstore.Tx) error {
	err := tx.RequireFresh(ctx, eventstore.ProjectionAuth, s.d.AuthLagBound)
	switch {
	case errors.Is(err, eventstore.ErrProjectionBehind):
		return errAuthBehind
	case errors.Is(err, eventstore.ErrProjectionStopped):
		return errTenantUnavailable
	}
	return err
}

// explicitTenant resolves the tenant the request names itself (workspace path, subdomain,
// X-Tenant header): uuid.Nil when it names none. Sources that disagree answer 400; a name
// that matches no tenant answers 404.
func (s *Server) explicitTenant(c *gin.Context) (uuid.UUID, bool) {
	var refs []string
	if w := c.Param("workspace"); w != "" {
		refs = append(refs, w)
	}
	if sub := s.subdomain(c.Request.Host); sub != "" {
		refs = append(refs, sub)
	}
	if h := strings.TrimSpace(c.GetHeader("X-Tenant")); h != "" {
		refs = append(refs, h)
	}
	found := uuid.Nil
	for _, ref := range refs {
		id, ok := s.lookupTenant(c, ref)
		if !ok {
			return uuid.Nil, false
		}
		if found != uuid.Nil && id != found {
			fail(c, http.StatusBadRequest, "invalid-request",
				"the workspace path, subdomain and X-Tenant header name different tenants")
			return uuid.Nil, false
		}
		found = id
	}
	return found, true
}

// lookupTenant maps a slug or id to a tenant id (eventstore.ResolveTenant; an id's existence
// is checked against the credential's tenant), remembering slugs it found.
func (s *Server) lookupTenant(c *gin.Context, ref string) (uuid.UUID, bool) {
	if v, ok := s.slugs.Load(ref); ok {
		return v.(uuid.UUID), true
	}
	id, err := s.d.Store.ResolveTenant(c, ref)
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		fail(c, http.StatusNotFound, "not-found", "tenant not found")
		return uuid.Nil, false
	}
	if err != nil {
		s.failErr(c, err)
		return uuid.Nil, false
	}
	if _, slug, _ := eventstore.ParseTenantRef(ref); slug != "" { // found in the directory
		s.slugs.Store(ref, id)
	}
	return id, true
}

// subdomain returns the slug of a {slug}.BaseDomain host, or "".
func (s *Server) subdomain(host string) string {
	if s.d.BaseDomain == "" {
		return ""
	}
	if strings.IndexByte(host, ':') >= 0 { // only then can it carry a port (no error built for most hosts)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	sub, ok := strings.CutSuffix(host, "."+strings.ToLower(s.d.BaseDomain))
	if !ok || sub == "" || strings.Contains(sub, ".") {
		return ""
	}
	return sub
}
