package httpapi

import (
	"context"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"
)

// heapFloorRunning is whether a RunHeapFloor sets the process's GC percent.
var heapFloorRunning atomic.Bool

// DefaultHeapFloor is TENANTRY_GC_HEAP_FLOOR's default, in bytes (see RunHeapFloor).
const DefaultHeapFloor = 64 << 20

// HeapFloorEvery is how often RunHeapFloor reads the live heap (it changes only when a
// collection ends: about every second or two under load with the floor in force).
const HeapFloorEvery = 250 * time.Millisecond

// goHeapMinimum is the Go runtime's smallest heap goal at GOGC=100 (4 MiB), which it scales
// with the percent: at percent p no collection starts below goHeapMinimum×p/100.
const goHeapMinimum = 4 << 20

// heapFloorPercent is the GC percent (GOGC) that puts the next collection at floor bytes of
// heap for a live heap of live bytes (0: not measured yet): the heap goal is live×(1+p/100),
// but never below the runtime's minimum, which grows with p, so p is at most the percent at
// which that minimum is the floor. Go's default (100) once twice the live heap is at least
// the floor.
func heapFloorPercent(live, floor uint64) int {
	if live >= floor/2 {
		return 100
	}
	p := floor / (goHeapMinimum / 100) // the percent at which the minimum heap is the floor
	if live > 0 {
		p = min(p, (floor-live)*100/live)
	}
	return max(100, int(p))
}

// RunHeapFloor keeps the collector from running before the heap holds floor bytes while the
// live heap is small, until ctx ends; then it restores the percent it found. An API
// replica's live heap is a few MiB, so Go's default pacing (collect when the heap doubles)
// collects every few MiB allocated: several times a second under load, and every
// collection shows in the tail latency of the requests it overlaps (the entitlement
// check's p99: the heap_floor_open_p99 figure). With the floor, the heap grows to floor
// before a collection; once the live heap is half the floor or more, pacing is Go's
// default. GOMEMLIMIT still bounds the total; the platform does not run this when GOGC is
// set (the operator chose).
//
// The percent is the process's: while one RunHeapFloor runs, another (a second server in
// one process, as in tests) only waits for its context.
func RunHeapFloor(ctx context.Context, floor uint64, every time.Duration) {
	if !heapFloorRunning.CompareAndSwap(false, true) {
		<-ctx.Done()
		return
	}
	defer heapFloorRunning.Store(false)
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	found := debug.SetGCPercent(100)
	defer debug.SetGCPercent(found)
	current := 100
	apply := func() {
		rtmetrics.Read(sample)
		if sample[0].Value.Kind() != rtmetrics.KindUint64 {
			return // not reported by this runtime: Go's pacing
		}
		// A change of less than a tenth is not worth setting (each one recomputes the
		// collector's goal).
		if p := heapFloorPercent(sample[0].Value.Uint64(), floor); p*10 < current*9 || p*10 > current*11 {
			debug.SetGCPercent(p)
			current = p
		}
	}
	apply()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			apply()
		}
	}
}
