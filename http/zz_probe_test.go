package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	httpapi "github.com/tenantry/tenantry/http"
)

func TestZZProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Plans = mustPlans(t, "enterprise.rps=1000000,enterprise.burst=1000000")
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	ten := a.createTenant("enterprise")
	var n atomic.Int64
	single := func() []byte {
		return []byte(fmt.Sprintf(`{"metric":"api_calls","quantity":1,"idempotency_key":"k-%d"}`, n.Add(1)))
	}
	os.WriteFile("/tmp/probe.start", nil, 0o644)
	if os.Getenv("PROBE") == "batch" {
		batch := func() []byte {
			var buf bytes.Buffer
			buf.WriteString(`{"records":[`)
			for i := 0; i < 1000; i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				fmt.Fprintf(&buf, `{"metric":"api_calls","quantity":1,"idempotency_key":"b-%d"}`, n.Add(1))
			}
			buf.WriteString(`]}`)
			return buf.Bytes()
		}
		l := drive(client, a.url+"/v1/usage", ten.key, 8, 20*time.Second, batch)
		t.Logf("batch rate %.0f records/s", l.rate*1000)
		return
	}
	l := drive(client, a.url+"/v1/usage", ten.key, conns(), 20*time.Second, single)
	t.Logf("rate %.0f p99 %.1f", l.rate, l.p99)
}

func conns() int {
	n := 64
	fmt.Sscan(os.Getenv("CONNS"), &n)
	return n
}
