package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	neturl "net/url"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/tenantry/tenantry/domain"
)

// SharedLimits keeps the per-tenant token buckets outside the process, so that every API
// replica spends from the same bucket.
type SharedLimits interface {
	// Allow takes one token from key's bucket sized by l, or says how long until one is free.
	Allow(ctx context.Context, key string, l domain.Limits) (LimitState, error)
}

// LimitState is a bucket after one Allow: whether the request may go, when to retry if
// not, and what the RateLimit header reports (tokens left, and how long until the bucket
// is full again).
type LimitState struct {
	OK         bool
	RetryAfter time.Duration
	Remaining  int
	ResetAfter time.Duration
}

// redisLimits is redis_rate's GCRA (generic cell rate algorithm, a token bucket in one
// atomic Lua script) in Redis.
type redisLimits struct{ lim *redis_rate.Limiter }

// NewRedisLimits connects to Redis at url (redis://host:port/db).
func NewRedisLimits(url string) (SharedLimits, error) {
	opt, err := redis.ParseURL(url)
	var parse *neturl.Error
	if errors.As(err, &parse) {
		// url.Parse quotes the whole URL, password included: never repeat it.
		return nil, fmt.Errorf("REDIS_URL is not a valid URL: %s", parse.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect to Redis at %s: %w", opt.Addr, err)
	}
	return &redisLimits{lim: redis_rate.NewLimiter(rdb)}, nil
}

func (r *redisLimits) Allow(ctx context.Context, key string, l domain.Limits) (LimitState, error) {
	// GCRA spaces requests by period/rate; a fractional rate per second becomes a whole
	// number of requests per 1,000 seconds with the same spacing.
	limit := redis_rate.Limit{Rate: max(1, int(math.Round(l.RequestsPerSecond*1000))), Burst: max(1, l.Burst), Period: 1000 * time.Second}
	res, err := r.lim.Allow(ctx, "tenantry:rl:"+key, limit)
	if err != nil {
		return LimitState{}, err
	}
	return LimitState{OK: res.Allowed > 0, RetryAfter: res.RetryAfter, Remaining: max(0, res.Remaining), ResetAfter: max(0, res.ResetAfter)}, nil
}
