package pgtest

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"
)

// BenchSelected reports whether figure name is selected by the BENCH environment variable
// (a regexp; empty or "." selects everything). `make bench BENCH=append` uses it.
func BenchSelected(name string) bool {
	pat := os.Getenv("BENCH")
	if pat == "" || pat == "." {
		return true
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return true
	}
	return re.MatchString(name)
}

// BenchLine prints one figure in the project's format, next to its same-run baseline:
//
//	BENCH <name> <value> <unit> ratio=<value/baseline> baseline=<name>
func BenchLine(name string, value float64, unit, baseline string, baseValue float64) {
	ratio := 0.0
	if baseValue != 0 {
		ratio = value / baseValue
	}
	fmt.Printf("BENCH %s %.6g %s ratio=%.3f baseline=%s\n", name, value, unit, ratio, baseline)
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Rate is ops per second over d.
func Rate(ops int64, d time.Duration) float64 { return float64(ops) / d.Seconds() }

// Alternate runs a figure and its baseline rounds times each, taking turns at going first
// (baseline, figure; figure, baseline; ...): whichever runs second runs on a machine still
// busy with the first's aftermath (a projector digesting its events, a checkpointer
// flushing its writes), and this way neither always does. Each run appends its value.
func Alternate(rounds int, figure, baseline func() float64) (figures, baselines []float64) {
	InTurns(rounds, func() { baselines = append(baselines, baseline()) }, func() { figures = append(figures, figure()) })
	return figures, baselines
}

// InTurns is Alternate for runs that record more than one number: it runs baseline and
// figure rounds times each, taking turns at going first (baseline first in round 0).
func InTurns(rounds int, baseline, figure func()) {
	for r := range rounds {
		if r%2 == 0 {
			baseline()
			figure()
		} else {
			figure()
			baseline()
		}
	}
}
