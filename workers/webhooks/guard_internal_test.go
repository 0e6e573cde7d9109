package webhooks

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublicAddr_RefusesEveryNonPublicRange(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"::1", "::", "fe80::1", "fc00::1", "fd12::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "255.255.255.255",
		"64:ff9b::a00:1", "2002:a00:1::1", "2001:0:4136:e378::1"} { // NAT64, 6to4 and Teredo forms of private IPv4
		require.False(t, publicAddr(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111"} {
		require.True(t, publicAddr(netip.MustParseAddr(a)), a)
	}
}
