package httpapi

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain"
)

// limiter holds one token bucket per tenant, sized by the tenant's plan, and one per client
// address for requests made outside any tenant (signup, invitation acceptance), so that a
// tenant flooding the API spends only its own budget.
type limiter struct {
	limitsOf func(domain.PlanName, int) domain.Limits
	shared   SharedLimits // across replicas (Redis); nil keeps the buckets in process
	onError  func(error)
	mu       sync.Mutex
	buckets  *lru[string, *bucket] // per tenant and per client address, at most maxBuckets
	swept    time.Time
}

// maxBuckets bounds the limiter's memory (about 200 bytes a bucket). Beyond it the least
// recently used bucket is forgotten: a client that was idle the longest starts again with
// a full bucket, which is what an idle client has anyway.
const maxBuckets = 100_000

type bucket struct {
	lim     *rate.Limiter
	plan    string
	version int
	used    time.Time
}

func (l *limiter) sharedDown(err error) {
	if l.onError != nil {
		l.onError(err)
	}
}

// anonymousLimits bounds requests without a tenant, per client address.
var anonymousLimits = domain.Limits{RequestsPerSecond: 5, Burst: 20}

func newLimiter(limitsOf func(domain.PlanName, int) domain.Limits) *limiter {
	return &limiter{limitsOf: limitsOf, buckets: newLRU[string, *bucket](maxBuckets)}
}

// allow takes a token for the request, or answers 429 with Retry-After.
func (l *limiter) allow(c *gin.Context, cl *call, m *metrics) bool {
	var key, plan string
	var version int
	limits := anonymousLimits
	switch {
	case cl.route.access == public || cl.route.access == stripe || cl.route.access == operator || cl.route.access == service || cl.actor == "operator":
		return true
	case cl.tenant != uuid.Nil:
		key, plan, version = "t:"+cl.tenantString(), cl.plan, cl.planV
		if p, err := domain.ParsePlanName(cl.plan); err == nil {
			if pl := l.limitsOf(p, cl.planV); pl.Valid() {
				limits = pl
			}
		}
	default:
		key, plan = "a:"+clientKey(c), "anonymous"
	}
	if l.shared != nil {
		st, err := l.shared.Allow(c.Request.Context(), key, limits)
		if err == nil {
			if cl.tenant != uuid.Nil {
				rateLimitHeaders(c, limits, st.Remaining, st.ResetAfter)
			}
			if st.OK {
				return true
			}
			retryAfter(c, st.RetryAfter)
			m.rateLimited(plan)
			l.tarpit(c)
			fail(c, http.StatusTooManyRequests, "rate-limited", "the rate limit of the "+plan+" plan is exceeded; retry after the delay in Retry-After")
			return false
		}
		// The shared store is down: fall back to this replica's own bucket rather than
		// refuse or wave through everything.
		l.sharedDown(err)
	}
	now := time.Now()
	l.mu.Lock()
	b, _ := l.buckets.get(key)
	if b == nil || b.plan != plan || b.version != version {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(limits.RequestsPerSecond), limits.Burst), plan: plan, version: version}
		l.buckets.put(key, b)
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	tokens := b.lim.TokensAt(now)       // after this request's token, negative when it must wait
	if now.Sub(l.swept) > time.Minute { // forget idle buckets (they would be full again)
		l.buckets.removeIf(func(_ string, v *bucket) bool { return now.Sub(v.used) > 10*time.Minute })
		l.swept = now
	}
	l.mu.Unlock()
	if cl.tenant != uuid.Nil {
		if d := r.DelayFrom(now); d > 0 {
			tokens++ // the refused request gives its token back (CancelAt below)
		}
		remaining := max(0, int(tokens))
		refill := time.Duration((float64(limits.Burst) - tokens) / limits.RequestsPerSecond * float64(time.Second))
		rateLimitHeaders(c, limits, remaining, refill)
	}
	if !r.OK() {
		m.rateLimited(plan)
		fail(c, http.StatusTooManyRequests, "rate-limited", "the rate limit of the "+plan+" plan is exceeded")
		return false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		retryAfter(c, d)
		m.rateLimited(plan)
		l.tarpit(c)
		fail(c, http.StatusTooManyRequests, "rate-limited", "the rate limit of the "+plan+" plan is exceeded; retry after the delay in Retry-After")
		return false
	}
	return true
}

// rateLimitHeaders sets the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers-09) for a tenant's token bucket: the policy "plan"
// allows q requests (the burst) per window w (the seconds a drained bucket takes to fill);
// r requests are left now, and in t seconds the bucket is full again.
func rateLimitHeaders(c *gin.Context, l domain.Limits, remaining int, refill time.Duration) {
	window := max(1, int(math.Ceil(float64(l.Burst)/l.RequestsPerSecond)))
	// Two allocations for both fields (this is on every tenant request): their values are
	// appended in one buffer on the stack and made one string, cut in two, and the two
	// one-element value slices share one array (each capped, so an append to one cannot
	// write into the other). The keys are in canonical form, as Header.Set would write them.
	var buf [96]byte
	b := strconv.AppendInt(append(buf[:0], `"plan";q=`...), int64(l.Burst), 10)
	b = strconv.AppendInt(append(b, ";w="...), int64(window), 10)
	n := len(b)
	b = strconv.AppendInt(append(b, `"plan";r=`...), int64(min(remaining, l.Burst)), 10)
	b = strconv.AppendInt(append(b, ";t="...), int64(max(0, int(math.Ceil(refill.Seconds())))), 10)
	both := string(b)
	values := []string{both[:n], both[n:]}
	h := c.Writer.Header()
	h["Ratelimit-Policy"], h["Ratelimit"] = values[:1:1], values[1:2:2]
}

// Refusals are slowed down: a client that retries in a tight loop (the usual noisy
// neighbour) would otherwise spend the machine's CPU on a stream of cheap 429s, at the
// expense of every other tenant. A refused request is answered after maxTarpit/2 to
// maxTarpit, at random (its Retry-After is at least a second anyway), holding nothing but a
// parked goroutine; at most maxTarpitted wait at once, beyond which refusals are immediate.
const (
	maxTarpit    = 250 * time.Millisecond
	maxTarpitted = 4096
)

var tarpitted = make(chan struct{}, maxTarpitted)

func (l *limiter) tarpit(c *gin.Context) {
	select {
	case tarpitted <- struct{}{}:
	default:
		return
	}
	defer func() { <-tarpitted }()
	// Jittered, so that a flood's refused requests come back spread out rather than together.
	t := time.NewTimer(maxTarpit/2 + rand.N(maxTarpit/2))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Request.Context().Done():
	}
}
