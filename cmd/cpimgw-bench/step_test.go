package main

import (
	"reflect"
	"testing"
	"time"
)

// TestStepUp checks the stepping rule both benchmarks share: a step runs
// again only when other load skewed it, at most -retries times, and the
// stepping stops after the first step that did not pass unless
// -all-steps.
func TestStepUp(t *testing.T) {
	// A step at rate passes below 300/s; other load skews the first run
	// at each rate listed in loaded.
	type run struct{ rate, try int }
	tests := map[string]struct {
		all     bool
		retries int
		loaded  map[int]int // rate → how many first runs are skewed
		want    []run
	}{
		"stops at the first failure": {
			want: []run{{100, 0}, {200, 0}, {300, 0}},
		},
		"all steps": {
			all:  true,
			want: []run{{100, 0}, {200, 0}, {300, 0}, {400, 0}},
		},
		"again under load": {
			retries: 2, loaded: map[int]int{200: 1},
			want: []run{{100, 0}, {200, 0}, {200, 1}, {300, 0}},
		},
		"at most retries times": {
			retries: 2, loaded: map[int]int{100: 5},
			want: []run{{100, 0}, {100, 1}, {100, 2}, {200, 0}, {300, 0}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := &bench{o: options{all: tc.all, retries: tc.retries}}
			var runs []run
			tries := map[int]int{}
			steps, err := b.stepUp([]int{100, 200, 300, 400},
				func(rate int) string { return name },
				stepResult.summary,
				func(rate int) (stepResult, error) {
					runs = append(runs, run{rate, tries[rate]})
					r := stepResult{Rate: rate, Duration: time.Second, Sent: 1, Received: 1, Offered: float64(rate)}
					if rate >= 300 {
						r.Received = 0
					}
					if tries[rate] < tc.loaded[rate] {
						r.ForeignCPU = 1
					}
					tries[rate]++
					return r, nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(runs, tc.want) {
				t.Errorf("runs %v, want %v", runs, tc.want)
			}
			if last := tc.want[len(tc.want)-1].rate; len(steps) == 0 || steps[len(steps)-1].Rate != last {
				t.Errorf("steps %v, want the last at %d", steps, last)
			}
		})
	}
}
