package httpapi

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
)

// However many client addresses send requests, the limiter and the failure counts hold at
// most their bound.
func TestLimiter_MemoryIsBoundedUnderManyClientAddresses(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	l := newLimiter(app.DefaultLimits(domain.DefaultPlans()).Limits)
	f := newAuthFailures()
	m := newMetrics(nil)
	clients := maxBuckets + 5_000
	for i := 0; i < clients; i++ {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/v1/invitations/accept", nil)
		c.Request.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
		if !l.allow(c, &call{route: &route{access: invitee}, actor: "anonymous"}, m) {
			t.Fatalf("client %d refused", i)
		}
		f.failed(clientKey(c), time.Now())
	}
	require.Equal(t, maxBuckets, l.buckets.len())
	require.Equal(t, min(clients, maxAuthClients), f.m.len())
}

// IPv6 clients are counted by /64, IPv4-mapped ones as IPv4, and nothing a client sends can
// make a key of unbounded length.
func TestClientKey_GroupsIPv6By64(t *testing.T) {
	require.Equal(t, "2001:db8:1:2::/64", addrKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
	require.Equal(t, "192.0.2.1", addrKey("::ffff:192.0.2.1"))
	require.Equal(t, "fe80::/64", addrKey("fe80::1%eth0"))
	require.Equal(t, "unknown", addrKey("not an address"))
}

func TestPlanLabel_IsBounded(t *testing.T) {
	for _, p := range domain.PlanNames() {
		require.Equal(t, p.String(), planLabel(p.String()))
	}
	require.Equal(t, "anonymous", planLabel("anonymous"))
	for _, p := range []string{"", "Free", "gold", "pro ", "other"} {
		require.Equal(t, "other", planLabel(p), p)
	}
}
