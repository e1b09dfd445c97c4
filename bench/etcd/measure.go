package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Row names, in table order.
const (
	rowRegister      = "register / put, 1 client on the leader, p50"
	rowRegisterP99   = "register / put, 1 client on the leader, p99"
	rowLease         = "register / put with a lease (liveness), 1 client, p50"
	rowRegister64    = "register / put, 64 clients over 3 members"
	rowLookupLocal   = "lookup local / serializable, 1 client on a follower, p50"
	rowLookupLin     = "lookup consistent / linearizable, 1 client on a follower, p50"
	rowLookupLocal64 = "lookup local / serializable, 64 clients"
	rowLookupLin64   = "lookup consistent / linearizable, 64 clients"
	rowWatch         = "watch delivery, write on the leader to event on a follower, p50"
	rowGone          = "owner dies -> name gone (Roster: kill -9 of its node; etcd: lease holder stops, minimum TTL)"
)

var rowOrder = []string{rowRegister, rowRegisterP99, rowLease, rowRegister64, rowLookupLocal, rowLookupLin,
	rowLookupLocal64, rowLookupLin64, rowWatch, rowGone}

// figure is one measured value: a duration or a rate.
type figure struct {
	d    time.Duration
	rate float64 // ops/s when set
}

func (f figure) String() string {
	if f.rate > 0 {
		return fmt.Sprintf("%.0f/s", f.rate)
	}
	return fmt.Sprintf("%.3f ms", float64(f.d.Microseconds())/1000)
}

func measure(ctx context.Context, s system, res *results, dur time.Duration, serial int) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	f := (l + 1) % 3
	put := func(row string, v figure) { res.set(s.name(), row, v) }
	c, err := s.newClient(ctx, l)
	if err != nil {
		return err
	}
	defer c.close()
	lat, err := serialRun(serial, func(i int) error { return c.register(ctx, fmt.Sprintf("reg-%d", i), false) })
	if err != nil {
		return err
	}
	put(rowRegister, figure{d: pct(lat, 50)})
	put(rowRegisterP99, figure{d: pct(lat, 99)})
	lat, err = serialRun(serial, func(i int) error { return c.register(ctx, fmt.Sprintf("lease-%d", i), true) })
	if err != nil {
		return err
	}
	put(rowLease, figure{d: pct(lat, 50)})
	rate, err := parallelRun(ctx, s, 64, dur, func(c client, w, i int) error {
		return c.register(ctx, fmt.Sprintf("par-%d-%d", w, i), false)
	})
	if err != nil {
		return err
	}
	put(rowRegister64, figure{rate: rate})
	if err := measureLookups(ctx, s, f, res, dur, serial); err != nil {
		return err
	}
	if err := measureWatch(ctx, s, l, f, res); err != nil {
		return err
	}
	return measureGone(ctx, s, l, f, res)
}

func measureLookups(ctx context.Context, s system, f int, res *results, dur time.Duration, serial int) error {
	c, err := s.newClient(ctx, f)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.register(ctx, "look", false); err != nil {
		return err
	}
	for _, k := range []struct {
		consistent bool
		one, many  string
	}{{false, rowLookupLocal, rowLookupLocal64}, {true, rowLookupLin, rowLookupLin64}} {
		var lat []time.Duration
		err := waitFor(5*time.Second, func() error {
			var err error
			lat, err = serialRun(serial, func(int) error {
				ok, err := c.lookup(ctx, "look", k.consistent)
				if err == nil && !ok {
					err = fmt.Errorf("look not found")
				}
				return err
			})
			return err
		})
		if err != nil {
			return err
		}
		res.set(s.name(), k.one, figure{d: pct(lat, 50)})
		rate, err := parallelRun(ctx, s, 64, dur, func(c client, _, _ int) error {
			_, err := c.lookup(ctx, "look", k.consistent)
			return err
		})
		if err != nil {
			return err
		}
		res.set(s.name(), k.many, figure{rate: rate})
	}
	return nil
}

func measureWatch(ctx context.Context, s system, l, f int, res *results) error {
	w, err := s.newClient(ctx, f)
	if err != nil {
		return err
	}
	defer w.close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := w.watch(wctx, "wch-")
	if err != nil {
		return err
	}
	c, err := s.newClient(ctx, l)
	if err != nil {
		return err
	}
	defer c.close()
	var lat []time.Duration
	for i := range 300 {
		key := fmt.Sprintf("wch-%d", i)
		t0 := time.Now()
		if err := c.register(ctx, key, false); err != nil {
			return err
		}
		for got := ""; got != key; {
			select {
			case got = <-ch:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("watch: %s not delivered", key)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	res.set(s.name(), rowWatch, figure{d: pct(lat, 50)})
	return nil
}

// measureGone registers a name bound to a client on follower f and ends
// that owner: Roster kills f with SIGKILL; etcd's client stops renewing
// its lease (as a killed holder would). It times until the leader no
// longer has the name.
func measureGone(ctx context.Context, s system, l, f int, res *results) error {
	c, err := s.newClient(ctx, f)
	if err != nil {
		return err
	}
	if err := c.register(ctx, "gone", true); err != nil {
		return err
	}
	obs, err := s.newClient(ctx, l)
	if err != nil {
		return err
	}
	defer obs.close()
	if err := waitFor(5*time.Second, func() error {
		if ok, err := obs.lookup(ctx, "gone", false); err != nil || !ok {
			return fmt.Errorf("gone not replicated: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	t0 := time.Now()
	if ec, ok := c.(*etcdClient); ok {
		ec.die()
	} else if err := s.kill9(f); err != nil {
		return err
	}
	err = waitFor(60*time.Second, func() error {
		ok, err := obs.lookup(ctx, "gone", false)
		if err != nil || ok {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.set(s.name(), rowGone, figure{d: time.Since(t0)})
	return nil
}

func serialRun(n int, op func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if err := op(i); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// parallelRun runs op from n clients (spread over the members) for d and
// returns completed ops per second.
func parallelRun(ctx context.Context, s system, n int, d time.Duration, op func(c client, w, i int) error) (float64, error) {
	clients := make([]client, n)
	for w := range n {
		c, err := s.newClient(ctx, w%3)
		if err != nil {
			return 0, err
		}
		defer c.close()
		clients[w] = c
	}
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	start := time.Now()
	for w, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				if err := op(c, w, i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), firstErr
}

func pct(lat []time.Duration, p int) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
