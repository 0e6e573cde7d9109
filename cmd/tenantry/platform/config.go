package platform

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/workers/billing"
)

// Config is every setting, read once from the environment. Defaults suit one machine.
type Config struct {
	DatabaseURL    string // administrative role: migrate and bootstrap
	AppDatabaseURL string // the API's runtime role (tenantry_app); derived from DatabaseURL when unset
	// WorkerDatabaseURL is the cross-tenant machinery's runtime role (tenantry_worker:
	// relay, projector, directory, rebuilds, head signer, billing worker); derived from
	// DatabaseURL when unset. The API never connects with it.
	WorkerDatabaseURL string
	Addr              string
	LogFormat         string // text | json
	LogLevel          slog.Level
	Partitions        int // events table partitions, fixed at the first migrate

	// Pool bounds. Every backend caches catalog entries of each tenant schema it touches and
	// never gives them back, so connections are recycled by age and idleness.
	DBMaxConns        int32
	DBMaxConnLifetime time.Duration
	DBMaxConnIdleTime time.Duration
	DBMaxConnUses     int // a connection is closed after this many uses (bounds catalog memory)
	// GroupCommitters (TENANTRY_GROUP_COMMITTERS) is how many transactions each runtime
	// store's group committer runs at once, coalescing concurrent small appends; 0 sends
	// every append on its own.
	GroupCommitters int

	// The API.
	OperatorToken       string       // TENANTRY_OPERATOR_TOKEN: operator routes; unset disables them
	IntrospectionToken  string       // TENANTRY_INTROSPECTION_TOKEN: POST /v1/introspect's service token; unset disables it (404)
	BaseDomain          string       // TENANTRY_BASE_DOMAIN: {slug}.BaseDomain routes to the tenant
	OpenSignup          bool         // TENANTRY_SIGNUP=open lets anyone create a tenant (default operator)
	StripeWebhookSecret string       // STRIPE_WEBHOOK_SECRET: verifies Stripe webhooks
	Plans               domain.Plans // TENANTRY_PLAN_LIMITS overrides, e.g. "pro.rps=100,free.seats=5"
	// TrustedProxies (TENANTRY_TRUSTED_PROXIES, comma-separated CIDRs or addresses) are the
	// load balancers whose X-Forwarded-For names the client; unset trusts none.
	TrustedProxies []netip.Prefix
	// HTTPTimeouts (TENANTRY_HTTP_READ_TIMEOUT, _WRITE_TIMEOUT, _IDLE_TIMEOUT) bound how
	// long a client may hold a connection.
	HTTPTimeouts httpapi.Timeouts

	// Billing.
	StripeAPIKey  string // STRIPE_API_KEY: unset disables the billing worker in serve
	StripeAPIBase string // STRIPE_API_BASE: https://api.stripe.com, or stripe-mock
	StripeTimeout time.Duration
	Billing       billing.Config

	// Scale-out.
	Bus      string // TENANTRY_BUS: gochannel (one process) | nats
	NATSURL  string // NATS_URL
	Cluster  string // TENANTRY_CLUSTER: names the NATS subject, stream and consumer groups
	RedisURL string // REDIS_URL: per-tenant rate limits shared by API replicas; unset keeps them in process
	// MetricsAddr (TENANTRY_METRICS_ADDR) serves /metrics from projector and worker
	// processes, which have no API; unset serves none.
	MetricsAddr string

	// Audit.
	// AuditSigner is TENANTRY_AUDIT_SIGNING_KEY, or the key in TENANTRY_AUDIT_SIGNING_KEY_FILE
	// (Ed25519; `tenantry audit keygen` makes one); nil leaves heads unsigned.
	AuditSigner       *auditlog.Signer
	AuditHeadInterval time.Duration // TENANTRY_AUDIT_HEAD_INTERVAL: how often moved heads are signed
	// EntitlementTenants bounds the tenants whose usage the API holds in memory for
	// entitlements (TENANTRY_ENTITLEMENT_TENANTS, default 10,000; least recently used out).
	EntitlementTenants int
	// GCHeapFloorMiB (TENANTRY_GC_HEAP_FLOOR, MiB; 0 off) is the heap an API process lets
	// grow before collecting garbage while its live heap is small (httpapi.RunHeapFloor);
	// 0 when GOGC is set in the environment, which then paces the collector as Go does.
	GCHeapFloorMiB int

	// QuotaSweep is TENANTRY_QUOTA_SWEEP: how often the worker checks every tenant on a plan
	// with a soft quota for due alerts (besides checking each tenant whose usage changed).
	QuotaSweep time.Duration

	// Webhooks: outbound webhooks' key and safety switches (webhooks.go).
	Webhooks WebhookConfig
}

// loadConfig reads the environment; validate says what is wrong.
func loadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:       getenv("DATABASE_URL"),
		AppDatabaseURL:    getenv("TENANTRY_APP_DATABASE_URL"),
		WorkerDatabaseURL: getenv("TENANTRY_WORKER_DATABASE_URL"),
		Addr:              or(getenv("TENANTRY_ADDR"), ":8080"),
		LogFormat:         getenv("LOG_FORMAT"),
		Partitions:        migrations.DefaultPartitions,
		DBMaxConns:        20,
		DBMaxConnLifetime: 30 * time.Minute,
		DBMaxConnIdleTime: 5 * time.Minute,
		DBMaxConnUses:     1000,
		GroupCommitters:   4,
	}
	var errs []string
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if isTerminal(os.Stderr) {
			c.LogFormat = "text"
		}
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Sprintf("LOG_LEVEL=%q: want debug, info, warn or error", v))
		}
	}
	intVar := func(name string, dst *int, lo, hi int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				errs = append(errs, fmt.Sprintf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a positive duration such as 30m", name, v))
				return
			}
			*dst = d
		}
	}
	c.OperatorToken = getenv("TENANTRY_OPERATOR_TOKEN")
	if c.OperatorToken != "" && len(c.OperatorToken) < 16 {
		errs = append(errs, "TENANTRY_OPERATOR_TOKEN: use at least 16 characters")
	}
	c.IntrospectionToken = getenv("TENANTRY_INTROSPECTION_TOKEN")
	if c.IntrospectionToken != "" && len(c.IntrospectionToken) < 16 {
		errs = append(errs, "TENANTRY_INTROSPECTION_TOKEN: use at least 16 characters")
	}
	if proxies, err := parseTrustedProxies(getenv("TENANTRY_TRUSTED_PROXIES")); err != nil {
		errs = append(errs, fmt.Sprintf("TENANTRY_TRUSTED_PROXIES: %v", err))
	} else {
		c.TrustedProxies = proxies
	}
	c.BaseDomain = strings.ToLower(strings.TrimSuffix(getenv("TENANTRY_BASE_DOMAIN"), "."))
	switch v := getenv("TENANTRY_SIGNUP"); v {
	case "", "operator":
	case "open":
		c.OpenSignup = true
	default:
		errs = append(errs, fmt.Sprintf("TENANTRY_SIGNUP=%q: want operator or open", v))
	}
	c.StripeWebhookSecret = getenv("STRIPE_WEBHOOK_SECRET")
	plans, err := domain.ParsePlanOverrides(domain.DefaultPlans(), getenv("TENANTRY_PLAN_LIMITS"))
	if err != nil {
		errs = append(errs, fmt.Sprintf("TENANTRY_PLAN_LIMITS: %v", err))
	}
	c.Plans = plans
	c.StripeAPIKey = getenv("STRIPE_API_KEY")
	c.StripeAPIBase = or(getenv("STRIPE_API_BASE"), "https://api.stripe.com")
	if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("STRIPE_API_BASE=%q: want an http(s) URL", c.StripeAPIBase))
	}
	c.StripeTimeout = 30 * time.Second
	durVar("TENANTRY_STRIPE_TIMEOUT", &c.StripeTimeout)
	if c.Billing.Prices, err = billing.ParsePrices(getenv("TENANTRY_STRIPE_PRICES")); err != nil {
		errs = append(errs, fmt.Sprintf("TENANTRY_STRIPE_PRICES: %v", err))
	}
	if c.Billing.Meters, err = billing.ParseMeters(getenv("TENANTRY_STRIPE_METERS")); err != nil {
		errs = append(errs, fmt.Sprintf("TENANTRY_STRIPE_METERS: %v", err))
	}
	c.Billing.Interval, c.Billing.Grace, c.Billing.Settle = billing.DefaultInterval, billing.DefaultGrace, billing.DefaultSettle
	durVar("TENANTRY_BILLING_INTERVAL", &c.Billing.Interval)
	durVar("TENANTRY_BILLING_GRACE", &c.Billing.Grace)
	durVar("TENANTRY_BILLING_SETTLE", &c.Billing.Settle)
	c.Billing.RequestsPerSecond = billing.DefaultRequestsPerSecond
	if v := getenv("TENANTRY_STRIPE_RPS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 10000 {
			errs = append(errs, fmt.Sprintf("TENANTRY_STRIPE_RPS=%q: want a number of requests per second from 0.1 to 10000", v))
		} else {
			c.Billing.RequestsPerSecond = f
		}
	}
	keyValue, keyFile := getenv("TENANTRY_AUDIT_SIGNING_KEY"), getenv("TENANTRY_AUDIT_SIGNING_KEY_FILE")
	switch {
	case keyValue != "" && keyFile != "":
		errs = append(errs, "TENANTRY_AUDIT_SIGNING_KEY and TENANTRY_AUDIT_SIGNING_KEY_FILE are both set: set one")
	case keyValue != "":
		if c.AuditSigner, err = auditlog.ParseSigningKey(keyValue); err != nil {
			errs = append(errs, fmt.Sprintf("TENANTRY_AUDIT_SIGNING_KEY: %v", err)) // never the value
		}
	case keyFile != "":
		if c.AuditSigner, err = readSigningKeyFile(keyFile); err != nil {
			errs = append(errs, fmt.Sprintf("TENANTRY_AUDIT_SIGNING_KEY_FILE=%q: %v", keyFile, err)) // never the contents
		}
	}
	c.Bus = or(getenv("TENANTRY_BUS"), "gochannel")
	if c.Bus != "gochannel" && c.Bus != "nats" {
		errs = append(errs, fmt.Sprintf("TENANTRY_BUS=%q: want gochannel or nats", c.Bus))
	}
	c.NATSURL = or(getenv("NATS_URL"), "nats://127.0.0.1:4222")
	c.RedisURL = getenv("REDIS_URL")
	c.Cluster = or(getenv("TENANTRY_CLUSTER"), "tenantry")
	c.MetricsAddr = getenv("TENANTRY_METRICS_ADDR")
	c.AuditHeadInterval = time.Hour
	durVar("TENANTRY_AUDIT_HEAD_INTERVAL", &c.AuditHeadInterval)
	c.QuotaSweep = 10 * time.Minute
	durVar("TENANTRY_QUOTA_SWEEP", &c.QuotaSweep)
	c.Webhooks = loadWebhookConfig(getenv, &errs)
	c.HTTPTimeouts = httpapi.DefaultTimeouts()
	durVar("TENANTRY_HTTP_READ_TIMEOUT", &c.HTTPTimeouts.Read)
	durVar("TENANTRY_HTTP_WRITE_TIMEOUT", &c.HTTPTimeouts.Write)
	durVar("TENANTRY_HTTP_IDLE_TIMEOUT", &c.HTTPTimeouts.Idle)
	intVar("TENANTRY_EVENT_PARTITIONS", &c.Partitions, 1, 1024)
	c.EntitlementTenants = 10_000
	intVar("TENANTRY_ENTITLEMENT_TENANTS", &c.EntitlementTenants, 1, 1_000_000)
	c.GCHeapFloorMiB = httpapi.DefaultHeapFloor >> 20
	intVar("TENANTRY_GC_HEAP_FLOOR", &c.GCHeapFloorMiB, 0, 1<<20)
	if getenv("GOGC") != "" {
		c.GCHeapFloorMiB = 0
	}
	maxConns := int(c.DBMaxConns)
	intVar("TENANTRY_DB_MAX_CONNS", &maxConns, 1, 1000)
	c.DBMaxConns = int32(maxConns)
	intVar("TENANTRY_DB_MAX_CONN_USES", &c.DBMaxConnUses, 0, 100_000_000)
	intVar("TENANTRY_GROUP_COMMITTERS", &c.GroupCommitters, 0, 64)
	durVar("TENANTRY_DB_MAX_CONN_LIFETIME", &c.DBMaxConnLifetime)
	durVar("TENANTRY_DB_MAX_CONN_IDLE_TIME", &c.DBMaxConnIdleTime)
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("configuration: LOG_FORMAT=%q: want text or json", c.LogFormat)
	}
	return nil
}

// adminURL is the URL for migrate and other administrative commands.
func (c Config) adminURL() (string, error) {
	if c.DatabaseURL == "" {
		return "", fmt.Errorf("configuration: DATABASE_URL is not set (a postgres:// URL of a role that may create roles; `make run` sets it up)")
	}
	return c.DatabaseURL, nil
}

// appURL is the API's runtime URL: TENANTRY_APP_DATABASE_URL, or derived from DATABASE_URL.
func (c Config) appURL() (string, error) {
	return c.roleURL(c.AppDatabaseURL, "TENANTRY_APP_DATABASE_URL", "tenantry_app", migrations.AppURL)
}

// workerURL is the cross-tenant machinery's runtime URL: TENANTRY_WORKER_DATABASE_URL, or
// derived from DATABASE_URL.
func (c Config) workerURL() (string, error) {
	return c.roleURL(c.WorkerDatabaseURL, "TENANTRY_WORKER_DATABASE_URL", "tenantry_worker", migrations.WorkerURL)
}

// roleURL is explicit (set from env) when given, else derive(DATABASE_URL) with the
// role's default password.
func (c Config) roleURL(explicit, env, login string, derive func(superURL, password string) (string, error)) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if c.DatabaseURL == "" {
		return "", fmt.Errorf("configuration: set %s (the %s login) or DATABASE_URL to derive it from", env, login)
	}
	return derive(c.DatabaseURL, "")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parseTrustedProxies reads a comma-separated list of CIDRs ("10.0.0.0/8") or single
// addresses ("192.0.2.7", taken as /32 or /128).
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an IP address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8: %v", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// runtimeURL is the URL of the runtime role for purpose, with the setting it comes from
// (for error messages).
func (c Config) runtimeURL(purpose eventstore.Purpose) (string, string, error) {
	if purpose == eventstore.ForWorker {
		u, err := c.workerURL()
		return u, "TENANTRY_WORKER_DATABASE_URL", err
	}
	u, err := c.appURL()
	return u, "TENANTRY_APP_DATABASE_URL", err
}

// maxSecretFile bounds what is read of a key file (TENANTRY_AUDIT_SIGNING_KEY_FILE,
// TENANTRY_WEBHOOK_KEY_FILE): a key in any encoding they take is far shorter.
const maxSecretFile = 4 << 10

// readSecretFile reads the key file at path, which must be a regular file readable by its
// owner only: a secret that any local user can read is refused, as ssh refuses such a
// private key. what names the key in errors; the contents never appear in one.
func readSecretFile(path, what string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read it: %w", errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("cannot read it: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("mode %04o lets other users read or change the %s; make it readable by its owner only (chmod 600)", perm, what)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read it: %w", err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("larger than %d bytes: not a %s", maxSecretFile, what)
	}
	return string(b), nil
}

// readSigningKeyFile reads the signing key in path (the encoding TENANTRY_AUDIT_SIGNING_KEY
// takes, as `tenantry audit keygen` writes it).
func readSigningKeyFile(path string) (*auditlog.Signer, error) {
	b, err := readSecretFile(path, "signing key")
	if err != nil {
		return nil, err
	}
	return auditlog.ParseSigningKey(b)
}
