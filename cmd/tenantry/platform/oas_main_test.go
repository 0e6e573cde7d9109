package platform

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/tenantry/tenantry/http/oastest"
)

// TestMain checks every answer these tests receive through http.DefaultClient (http.Get
// and friends: the API processes they start with serve, api and the cluster) against the
// OpenAPI document, as the http package's tests check their in-process servers: a run that
// received an answer the document does not describe fails, naming it.
func TestMain(m *testing.M) {
	var mu sync.Mutex
	var drift []string
	// The billing worker's Stripe calls (stripe-mock here) share http.DefaultClient.
	stripe := func(r *http.Request) bool {
		base, err := url.Parse(os.Getenv("STRIPE_API_BASE"))
		return r.URL.Host == "api.stripe.com" || (err == nil && base.Host != "" && r.URL.Host == base.Host)
	}
	tr, err := oastest.Collecting(nil, stripe, func(e string) {
		mu.Lock()
		defer mu.Unlock()
		drift = append(drift, e)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "oastest:", err)
		os.Exit(1)
	}
	http.DefaultClient.Transport = tr
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for _, e := range drift {
		fmt.Fprintln(os.Stderr, "oastest: an answer the OpenAPI document does not describe:", e)
	}
	if len(drift) > 0 && code == 0 {
		code = 1
	}
	os.Exit(code)
}
