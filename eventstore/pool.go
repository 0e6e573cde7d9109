package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/eventstore/pguuid"
)

// PoolConfig bounds a runtime pool. Every backend caches catalog entries of each tenant
// schema it touches and never gives them back, so connections are recycled by age, idleness
// and uses.
type PoolConfig struct {
	// Purpose is the process the pool serves; OpenPool refuses a role that does not suit it.
	Purpose Purpose
	// Setting names where the URL came from (e.g. TENANTRY_APP_DATABASE_URL) in errors,
	// which never repeat the URL itself: it may carry a password.
	Setting         string
	MaxConns        int32         // default 20
	MaxConnLifetime time.Duration // default 30m, with 10% jitter
	MaxConnIdleTime time.Duration // default 5m
	MaxConnUses     int           // a connection is closed after this many uses; 0: never
	// ApplicationName is shown in pg_stat_activity unless the URL sets application_name.
	ApplicationName string
}

func (c PoolConfig) withDefaults() PoolConfig {
	if c.MaxConns <= 0 {
		c.MaxConns = 20
	}
	if c.MaxConnLifetime <= 0 {
		c.MaxConnLifetime = 30 * time.Minute
	}
	if c.MaxConnIdleTime <= 0 {
		c.MaxConnIdleTime = 5 * time.Minute
	}
	if c.Setting == "" {
		c.Setting = "the runtime database URL"
	}
	return c
}

// OpenPool connects to url as a runtime role and refuses to go on if that role could bypass
// row-level security or does not suit cfg.Purpose (the API's pool holding cross-tenant
// powers, above all). It is the one place runtime pools are made, so every process's
// connections carry the same recycling, uuid codecs and safety check.
func OpenPool(ctx context.Context, url string, cfg PoolConfig) (*pgxpool.Pool, error) {
	if cfg.Purpose != ForAPI && cfg.Purpose != ForWorker {
		return nil, errors.New("open pool: PoolConfig.Purpose must be ForAPI or ForWorker")
	}
	cfg = cfg.withDefaults()
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the string with best-effort redaction only: say which
		// setting is wrong, never what it holds.
		return nil, fmt.Errorf("%s is not a valid connection string", cfg.Setting)
	}
	pcfg.MaxConns = cfg.MaxConns
	if _, set := pcfg.ConnConfig.RuntimeParams["application_name"]; !set && cfg.ApplicationName != "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
	}
	pcfg.MaxConnLifetime = cfg.MaxConnLifetime
	pcfg.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	pcfg.MaxConnIdleTime = cfg.MaxConnIdleTime
	pcfg.AfterConnect = pguuid.AfterConnect
	pcfg.AfterRelease = RetireAfter(cfg.MaxConnUses)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect as runtime role (%s): %w", cfg.Setting, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect as runtime role (%s): %w", cfg.Setting, err)
	}
	err = CheckRuntimeRoleFor(ctx, conn, cfg.Purpose)
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("refusing to start: %s: %w", cfg.Setting, err)
	}
	return pool, nil
}
