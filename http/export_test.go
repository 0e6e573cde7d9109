package httpapi

import (
	"bytes"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// RouteSpec is one route as the permission table declares it, for the tests.
type RouteSpec struct {
	Method, Path string
	Access       string
	Roles        []domain.Role
	Scoped       bool
}

// Routes lists the route table.
func Routes() []RouteSpec {
	s := &Server{}
	var out []RouteSpec
	for _, rt := range s.routes() {
		out = append(out, RouteSpec{Method: rt.method, Path: rt.path, Access: rt.access.String(), Roles: rt.roles, Scoped: rt.scoped})
	}
	return out
}

// DocumentFor builds the OpenAPI document without a running server.
func DocumentFor() map[string]any { return (&Server{}).Document() }

// Permissions renders the README's permission table.
func Permissions() string { return (&Server{}).PermissionTable() }

var DecodeJSON = decodeJSON
var ParseUsageBody = parseUsageBody

// ParseUsageEnvelope is the full path of ParseUsageBody, which its fast path must agree with.
func ParseUsageEnvelope(body []byte, now time.Time) ([]usage.Recorded, error) {
	return parseUsageEnvelope(bytes.TrimSpace(body), now, nil)
}

// UnreachableRedisLimits is a Redis client aimed at an address where nothing listens, as a
// Redis that went down after start-up looks to an API replica.
func UnreachableRedisLimits(addr string) SharedLimits {
	return &redisLimits{lim: redis_rate.NewLimiter(redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond}))}
}

// CredentialTTL bounds how long a cached credential is served.
const CredentialTTL = credTTL

// NewServer is New, also returning the server, for tests that look inside it; it panics
// when d's products cannot be served.
func NewServer(d Deps) (*gin.Engine, *Server) {
	r, s, err := build(d)
	if err != nil {
		panic(err)
	}
	return r, s
}

// CheckTable checks Tenantry's own route table as CheckProducts checks one with products.
func CheckTable() error { return checkTable((&Server{}).routes()) }

// RoutesOf lists the route table of a server (its products' routes included).
func RoutesOf(s *Server) []RouteSpec {
	var out []RouteSpec
	for _, rt := range s.routes() {
		out = append(out, RouteSpec{Method: rt.method, Path: rt.path, Access: rt.access.String(), Roles: rt.roles, Scoped: rt.scoped})
	}
	return out
}

// Gathered is how many requests wait in tenant's usage coalescing lanes for an append.
func Gathered(s *Server, tenant uuid.UUID) int {
	return s.usage.Waiting(tenant)
}

// IdempotencyRow is the key_hash and request_hash the server stores for a request.
func IdempotencyRow(tenant uuid.UUID, principal, key, method, path string, body []byte) (keyHash, requestHash []byte) {
	k, err := deriveIdemSecrets(tenant, principal, key)
	if err != nil {
		panic(err)
	}
	return k.lookup, k.requestMAC(method, path, body)
}

// LimiterBuckets is how many rate-limit buckets the server holds.
func LimiterBuckets(s *Server) int {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return s.limits.buckets.len()
}

// AuthFailureClients is how many clients' failed authentications the server counts.
func AuthFailureClients(s *Server) int {
	s.authFails.mu.Lock()
	defer s.authFails.mu.Unlock()
	return s.authFails.m.len()
}

const (
	MaxBuckets        = maxBuckets
	MaxAuthClients    = maxAuthClients
	AuthFailureBudget = authFailureBudget
)

// ReplayedEvents is how many events GET /v1/audit/state has read.
func ReplayedEvents(s *Server) int64 { return s.audits.replayed.Load() }

// RehashedEvents is how many events GET /v1/audit/verify has re-hashed.
func RehashedEvents(s *Server) int64 { return s.audits.rehashed.Load() }

const HistoricalReplayBudget = historicalReplayBudget

// PushOutAudit has n other tenants enter each of the audit cache's per-tenant maps, as n
// tenants asking for their verification, their state and earlier instants would: what the
// server keeps of the least recently seen tenants is pushed out of each map it overflows.
func PushOutAudit(s *Server, n int) {
	a := s.audits
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i < n; i++ {
		id := uuid.New()
		pushIn(a.verified, id)
		pushIn(a.folded, id)
		pushIn(a.budgets, id)
	}
}

func pushIn[V any](l *lru[uuid.UUID, V], id uuid.UUID) {
	var zero V
	l.put(id, zero)
}

const (
	ColdReadBudget     = coldReadBudget
	MaxVerifiedTenants = maxVerifiedTenants
)
