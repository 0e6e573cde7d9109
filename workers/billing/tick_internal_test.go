package billing

import (
	"testing"
	"time"
)

func TestClaimTick_RetriesClaimsEveryMinuteAtMost(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		claimed  bool
		want     time.Duration
	}{
		{time.Hour, false, time.Hour},
		{time.Hour, true, time.Minute},
		{2 * time.Second, true, 2 * time.Second},
	} {
		if got := claimTick(tc.interval, tc.claimed); got != tc.want {
			t.Errorf("claimTick(%v, %v) = %v, want %v", tc.interval, tc.claimed, got, tc.want)
		}
	}
}
