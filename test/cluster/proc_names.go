package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"
)

// SoakEnv names the environment variable that turns on the long variants
// of the multi-process and docker-compose tests (more runs, the lan
// profile figure).
const SoakEnv = "ROSTER_SOAK"

// procSoak reports whether ROSTER_SOAK is set.
func procSoak() bool { return os.Getenv(SoakEnv) != "" }

// procWaitGone polls name on every api until all answer 404, up to d, and
// returns the time from since to the moment the last replica dropped it.
func procWaitGone(ctx context.Context, apis []*procAPI, name string, since time.Time, d time.Duration) (time.Duration, error) {
	gone := make([]bool, len(apis))
	err := WaitFor(d, func() error {
		for i, api := range apis {
			if gone[i] {
				continue
			}
			a, err := api.lookup(ctx, name)
			if err != nil {
				return err
			}
			if a.Status != http.StatusNotFound {
				return fmt.Errorf("replica %s still answers %d %v", api.base, a.Status, a.Body)
			}
			gone[i] = true
		}
		return nil
	})
	return time.Since(since), err
}

// procWaitName polls name on every api until all hold it for pid with the
// given fence (0: any), up to d.
func procWaitName(ctx context.Context, apis []*procAPI, name, pid string, fence float64, d time.Duration) error {
	return WaitFor(d, func() error {
		for _, api := range apis {
			a, err := api.lookup(ctx, name)
			if err != nil {
				return err
			}
			if a.Status != http.StatusOK || a.str("pid") != pid || (fence != 0 && a.Body["fence"] != fence) {
				return fmt.Errorf("replica %s: %s is %d %v, want pid %s fence %v", api.base, name, a.Status, a.Body, pid, fence)
			}
		}
		return nil
	})
}

// procRegister spawns a process with a long TTL on api and registers name
// for it; it returns the pid and the fence.
func procRegister(ctx context.Context, api *procAPI, name string) (string, float64, error) {
	pid, err := api.spawn(ctx, 10*time.Minute)
	if err != nil {
		return "", 0, err
	}
	a, err := api.register(ctx, name, pid)
	if err != nil {
		return "", 0, err
	}
	if a.Status != http.StatusCreated {
		return "", 0, fmt.Errorf("%w: register %s: status %d %v", ErrProcAPI, name, a.Status, a.Body)
	}
	fence, _ := a.Body["fence"].(float64)
	return pid, fence, nil
}

// procFigures summarises measured durations: median and p90 (nearest
// rank), min and max.
type procFigures struct {
	N                     int
	Median, P90, Min, Max time.Duration
}

func procSummarise(ds []time.Duration) procFigures {
	if len(ds) == 0 {
		return procFigures{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return procFigures{N: len(s), Median: rank(0.5), P90: rank(0.9), Min: s[0], Max: s[len(s)-1]}
}

func (f procFigures) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("n=%d median=%v p90=%v min=%v max=%v", f.N, r(f.Median), r(f.P90), r(f.Min), r(f.Max))
}
