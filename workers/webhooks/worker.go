// Package webhooks delivers the outbound webhooks the projector queued (issue 19): it claims
// due deliveries with a lease, so replicas never send one at the same time, POSTs each signed
// body to its endpoint, and records the outcome: delivered on a 2xx, otherwise retried with
// exponential backoff and full jitter until the retry window closes, the endpoint disabled
// after sustained failure. Per (endpoint, tenant) only the oldest pending delivery is sent,
// so order holds; a slow endpoint ties up only its own goroutines.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
)

// Config configures a Worker; zero fields take the defaults.
type Config struct {
	Store  *eventstore.Store // on the worker role's pool
	Key    *webhook.Key      // opens the endpoints' secrets; required
	Logger *slog.Logger
	// AllowPrivate lets deliveries reach private, loopback and link-local addresses
	// (TENANTRY_WEBHOOK_ALLOW_PRIVATE); off, they are refused before connecting.
	AllowPrivate bool
	Retry        webhook.Retry   // default webhook.DefaultRetry
	Disable      webhook.Disable // default webhook.DefaultDisable
	PollInterval time.Duration   // how often due deliveries are claimed; default 1s
	Timeout      time.Duration   // one attempt's whole time; default 10s
	PerEndpoint  int             // deliveries in flight per endpoint across all workers; default 4
	Batch        int             // deliveries claimed at once; default 100
	MaxResponse  int64           // response bytes read; default 64 KiB
	Now          func() time.Time
	// Client replaces the HTTP client (benchmarks); its redirects and address checks are
	// then its own.
	Client *http.Client
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Retry == (webhook.Retry{}) {
		c.Retry = webhook.DefaultRetry
	}
	if c.Disable == (webhook.Disable{}) {
		c.Disable = webhook.DefaultDisable
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.PerEndpoint <= 0 {
		c.PerEndpoint = 4
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.MaxResponse <= 0 {
		c.MaxResponse = 64 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Worker delivers webhooks until its context ends.
type Worker struct {
	cfg    Config
	client *http.Client

	wg sync.WaitGroup
	// wake asks Run for a claim now, not at the next tick: an attempt has ended, so its
	// pair's next delivery (held back while it was in flight) may be due, and its endpoint
	// has a slot free. Wakes that arrive together make one claim.
	wake chan struct{}
}

// New builds a Worker; it needs a store and a key.
func New(cfg Config) (*Worker, error) {
	cfg = cfg.withDefaults()
	if cfg.Store == nil || cfg.Key == nil {
		return nil, errors.New("webhooks worker: a store and a key are required")
	}
	client := cfg.Client
	if client == nil {
		client = NewHTTPClient(cfg.Timeout, cfg.AllowPrivate)
	}
	return &Worker{cfg: cfg, client: client, wake: make(chan struct{}, 1)}, nil
}

// NewHTTPClient is the delivery client: no proxy, no redirects followed (a 3xx is a
// failure), the whole attempt bounded by timeout, and unless allowPrivate every connection
// refused whose resolved address is not public.
func NewHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = guardControl
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run claims and delivers due deliveries every PollInterval, and as soon as an attempt
// ends, until ctx ends; then it waits for the attempts under way (each bounded by Timeout).
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	defer w.wg.Wait()
	for {
		if _, err := w.dispatch(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("claim webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Once claims what is due, delivers it and waits for the attempts: one round of Run.
func (w *Worker) Once(ctx context.Context) (int, error) {
	n, err := w.dispatch(ctx)
	w.wg.Wait()
	return n, err
}

// dispatch claims due deliveries and starts them. The claim leaves no endpoint more than
// PerEndpoint deliveries in flight, counting every worker's (each holds a lease meanwhile).
func (w *Worker) dispatch(ctx context.Context) (int, error) {
	// The claim is not cut short by shutdown: a claim committed but not read back would
	// leave its deliveries leased, unsent, until the lease ran out.
	jobs, err := w.cfg.Store.ClaimWebhooks(context.WithoutCancel(ctx), w.cfg.Batch, w.cfg.PerEndpoint, w.lease())
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.deliverPair(ctx, j)
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}()
	}
	return len(jobs), nil
}

// deliverPair delivers j and then, while each attempt delivers and ctx lasts, its pair's
// next due delivery, leased in the transaction that recorded the one before it.
func (w *Worker) deliverPair(ctx context.Context, j eventstore.WebhookJob) {
	for {
		next := w.deliver(context.WithoutCancel(ctx), j, ctx.Err() == nil)
		if next == nil {
			return
		}
		j = *next
	}
}

// deliver makes one attempt and records it; with chain, a delivered attempt also leases
// and returns its pair's next due delivery. It runs to its end even on shutdown (bounded
// by Timeout), so that a sent delivery is recorded; an unrecorded one is sent again once
// its lease expires (at least once).
func (w *Worker) deliver(ctx context.Context, j eventstore.WebhookJob, chain bool) *eventstore.WebhookJob {
	o := w.attempt(ctx, j)
	if !o.Delivered {
		now := w.cfg.Now()
		attempts := j.Attempts + 1
		o.Retry = w.cfg.Retry.Backoff(attempts)
		if j.FirstAttemptAt != nil && now.Sub(*j.FirstAttemptAt)+o.Retry > w.cfg.Retry.MaxAge {
			o.GiveUp = true
		}
		if j.ConsecutiveErrors+1 >= w.cfg.Disable.Consecutive {
			o.Disable = fmt.Sprintf("disabled after %d failed attempts in a row", j.ConsecutiveErrors+1)
		} else if j.FailingSince != nil && now.Sub(*j.FailingSince) >= w.cfg.Disable.Span {
			o.Disable = fmt.Sprintf("disabled: every attempt failed since %s", j.FailingSince.UTC().Format(time.RFC3339))
		}
	}
	lease := time.Duration(0)
	if chain {
		lease = w.lease()
	}
	next, err := w.cfg.Store.CompleteWebhookAndClaimNext(ctx, j, o, lease)
	if err != nil {
		w.cfg.Logger.Error("record webhook attempt", "endpoint_id", j.EndpointID, "tenant_id", j.TenantID, "seq", j.Seq, "err", err)
		return nil
	}
	if o.Disable != "" {
		w.cfg.Logger.Warn("webhook endpoint disabled", "endpoint_id", j.EndpointID, "reason", o.Disable)
	}
	return next
}

// lease is how long a claimed delivery is held: longer than any attempt (then it is
// recorded, or its worker is gone and another may send it).
func (w *Worker) lease() time.Duration { return w.cfg.Timeout + 30*time.Second }

// attempt POSTs the delivery once.
func (w *Worker) attempt(ctx context.Context, j eventstore.WebhookJob) eventstore.WebhookOutcome {
	secrets := make([]string, 0, 2)
	s, err := w.cfg.Key.Open(j.EndpointID, j.SecretSealed)
	if err != nil {
		return eventstore.WebhookOutcome{Error: "the endpoint's secret cannot be opened with this deployment's key"}
	}
	secrets = append(secrets, s)
	if j.PreviousSealed != nil {
		if p, err := w.cfg.Key.Open(j.EndpointID, j.PreviousSealed); err == nil {
			secrets = append(secrets, p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(j.Body))
	if err != nil {
		return eventstore.WebhookOutcome{Error: "invalid endpoint URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tenantry-Webhooks/1")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(w.cfg.Now(), j.Body, secrets...))
	req.Header.Set("Tenantry-Delivery-Attempt", strconv.Itoa(j.Attempts+1))
	res, err := w.client.Do(req)
	if err != nil {
		return eventstore.WebhookOutcome{Error: shorten(errorText(err))}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, w.cfg.MaxResponse))
	res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return eventstore.WebhookOutcome{Delivered: true, Status: res.StatusCode}
	}
	reason := "HTTP " + strconv.Itoa(res.StatusCode)
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		reason += " (redirects are not followed)"
	}
	return eventstore.WebhookOutcome{Status: res.StatusCode, Error: reason}
}

// errorText names why a request failed, without its URL (which may carry a token).
func errorText(err error) string {
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return "refused: " + ErrForbiddenAddress.Error() + " (TENANTRY_WEBHOOK_ALLOW_PRIVATE)"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

func shorten(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
