package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress means a delivery's host resolved to an address deliveries may not
// reach (private, loopback, link-local, CGNAT, unique-local, unspecified or multicast)
// unless AllowPrivate is set.
var ErrForbiddenAddress = errors.New("webhook destination address is not public")

var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use IPv4/IPv6 translation
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: may embed a private IPv4 address
	netip.MustParsePrefix("2002::/16"),      // 6to4: may embed a private IPv4 address
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds an IPv4 address
}

// publicAddr reports whether a is an address deliveries may reach.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// guardControl is the dialer's Control: it runs on the resolved address just before the
// connection is made, so a name that resolves (or re-resolves: DNS rebinding) to a private
// address is refused without a packet sent to it.
func guardControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !publicAddr(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
	}
	return nil
}
