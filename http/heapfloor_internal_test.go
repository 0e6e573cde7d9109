package httpapi

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The percent puts the next collection at the floor: live×(1+p/100) is the floor while that
// is above the runtime's minimum (4 MiB×p/100), the minimum is the floor below that, and
// Go's default applies from half the floor on.
func TestHeapFloorPercent_PutsTheNextCollectionAtTheFloor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 * mib, 1600},             // not measured yet: the minimum heap is the floor
		{1 * mib, 64 * mib, 1600},       // below the minimum: the minimum is the floor
		{4 * mib, 64 * mib, 1500},       // 4×(1+15) = 64
		{8 * mib, 64 * mib, 700},        // 8×(1+7) = 64
		{31 * mib, 64 * mib, 106},       // 31×2.06 ≈ 64
		{32 * mib, 64 * mib, 100},       // half the floor: Go's default
		{500 * mib, 64 * mib, 100},      // far above
		{0, 1 * mib, 100},               // a floor below the runtime's minimum changes nothing
		{10 * mib, 1 << 40, 10_485_660}, // a large floor
	} {
		got := heapFloorPercent(tc.live, tc.floor)
		require.Equal(t, tc.want, got, "live %d MiB, floor %d MiB", tc.live/mib, tc.floor/mib)
		if tc.live > 0 && got > 100 {
			goal := max(tc.live*uint64(100+got)/100, goHeapMinimum*uint64(got)/100)
			require.InDelta(t, float64(tc.floor), float64(goal), float64(tc.floor)/50, "the goal is the floor")
		}
	}
}

// RunHeapFloor raises the percent while the live heap is small and gives back the one it
// found when its context ends.
func TestRunHeapFloor_RaisesThePercentAndRestoresIt(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC() // the live heap is measured
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); RunHeapFloor(ctx, 1<<40, 10*time.Millisecond) }()
	require.Eventually(t, func() bool {
		p := debug.SetGCPercent(100) // read it (and put it back below)
		debug.SetGCPercent(p)
		return p > 1000
	}, 5*time.Second, 5*time.Millisecond, "a test binary's live heap is far below a TiB")
	// A second one (another server in the process) leaves the percent to the first.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); RunHeapFloor(ctx2, 1, time.Millisecond) }()
	time.Sleep(50 * time.Millisecond)
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	require.Greater(t, p, 1000, "the first one's")
	cancel2()
	<-done2
	cancel()
	<-done
	require.Equal(t, 100, debug.SetGCPercent(100), "restored")
}
