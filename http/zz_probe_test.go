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

func TestZZNoisy(t *testing.T) {
	if os.Getenv("NOISY") == "" {
		t.Skip()
	}
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Plans = mustPlans(t, "enterprise.rps=1000000,enterprise.burst=1000000,"+os.Getenv("NOISY"))
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	quiet, noisy := a.createTenant("enterprise"), a.createTenant("pro")
	for round := 0; round < 2; round++ {
		alone := paced(client, a.url+"/v1/tenant", quiet.key, 100, 5*time.Second)
		stop := make(chan struct{})
		var ok, limited atomic.Int64
		done := make(chan struct{})
		for i := 0; i < 32; i++ {
			go func() {
				defer func() { done <- struct{}{} }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if send(client, a.url+"/v1/tenant", noisy.key, "GET", nil) == 200 {
						ok.Add(1)
					} else {
						limited.Add(1)
					}
				}
			}()
		}
		t0 := time.Now()
		var slow []string
		var lat []float64
		tick := time.NewTicker(10 * time.Millisecond)
		for time.Since(t0) < 5*time.Second {
			<-tick.C
			s0 := time.Now()
			send(client, a.url+"/v1/tenant", quiet.key, "GET", nil)
			l := float64(time.Since(s0).Microseconds()) / 1000
			lat = append(lat, l)
			if l > 2.5 {
				slow = append(slow, fmt.Sprintf("%.0fms:%.1f", float64(s0.Sub(t0).Milliseconds()), l))
			}
		}
		tick.Stop()
		flooded := percentile(lat, 0.99)
		t.Logf("slow: %v", slow)
		close(stop)
		for i := 0; i < 32; i++ {
			<-done
		}
		t.Logf("alone p99 %.2f ms, flooded p99 %.2f ms (x%.2f); noisy ok %d/s limited %d/s", alone, flooded, flooded/alone, ok.Load()/5, limited.Load()/5)
	}
}
