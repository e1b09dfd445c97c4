// Command etcd runs Roster (three clusternode agents built from this
// repository) and a three-member etcd on loopback through one client
// harness, and writes results.md and chart.svg beside it. It is not part
// of CI; run.sh installs etcd and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	roster := flag.String("roster", "", "path to the clusternode binary")
	etcdBin := flag.String("etcd", "etcd", "path to the etcd binary")
	out := flag.String("out", ".", "directory for results.md and chart.svg")
	dur := flag.Duration("duration", 3*time.Second, "length of each throughput run")
	serial := flag.Int("serial", 2000, "operations of each one-client latency run")
	flag.Parse()
	if err := run(*roster, *etcdBin, *out, *dur, *serial); err != nil {
		fmt.Fprintln(os.Stderr, "bench/etcd:", err)
		os.Exit(1)
	}
}

func run(rosterBin, etcdBin, out string, dur time.Duration, serial int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "roster-vs-etcd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r, err := startRoster(ctx, rosterBin, filepath.Join(tmp, "roster"))
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	defer r.stop()
	e, err := startEtcd(ctx, etcdBin, filepath.Join(tmp, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer e.stop()
	res := &results{Load: loadAvg()}
	for _, sys := range []system{r, e} {
		if err := measure(ctx, sys, res, dur, serial); err != nil {
			return fmt.Errorf("%s: %w", sys.name(), err)
		}
	}
	res.LoadAfter = loadAvg()
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(res.markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "chart.svg"), []byte(res.svg()), 0o644)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	var a, b5, c float64
	fmt.Sscan(string(b), &a, &b5, &c)
	return fmt.Sprintf("%.1f %.1f %.1f", a, b5, c)
}
