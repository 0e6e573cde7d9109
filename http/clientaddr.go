package httpapi

import (
	"net/netip"

	"github.com/gin-gonic/gin"
)

// clientKey names the client a request comes from, for the limits kept per client
// (anonymous rate limit, failed authentications). It is the peer's address, or the address
// a trusted proxy (Deps.TrustedProxies) reports in X-Forwarded-For; no other client can
// choose it. An IPv6 client is named by its /64, the block one subscriber usually holds,
// so that rotating through its own addresses does not give it fresh budgets.
func clientKey(c *gin.Context) string {
	return addrKey(c.ClientIP())
}

// addrKey is clientKey for an address as gin reports it.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "unknown" // not an address (gin reports the peer's, which always is one)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
