package membership

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Resolver looks up the DNS names in seeds. *net.Resolver implements it
// (net.DefaultResolver is the default).
type Resolver interface {
	// LookupIPAddr returns every A and AAAA record of host. Called from
	// Join and the rejoin loop, never concurrently with itself for one
	// Membership; it may block until ctx is done.
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	// LookupSRV returns the SRV records of name (service and proto empty:
	// name is looked up as given). Same calling rules as LookupIPAddr.
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

var _ Resolver = (*net.Resolver)(nil)

// SRVSeedPrefix marks a seed that names SRV records ("srv:_gossip._tcp.peers.example"):
// each record's target and port is a seed.
const SRVSeedPrefix = "srv:"

// resolveTimeout bounds the DNS lookups of one join attempt.
const resolveTimeout = 5 * time.Second

// resolveSeeds turns seeds into gossip addresses: an IP:port is kept, a
// HOST:port becomes one address per A/AAAA record of HOST, an SRV seed one
// per record (its target resolved the same way). Names are resolved anew
// at every call, so a seed that names a changing set (a Kubernetes
// headless Service) finds its current members. A name that does not
// resolve is skipped; errs lists why.
func resolveSeeds(ctx context.Context, r Resolver, seeds []string) (addrs []string, errs []error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	seen := map[string]bool{}
	add := func(host string, port string) {
		a := net.JoinHostPort(host, port)
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	for _, s := range seeds {
		if name, ok := strings.CutPrefix(s, SRVSeedPrefix); ok {
			_, recs, err := r.LookupSRV(ctx, "", "", name)
			if err != nil {
				errs = append(errs, fmt.Errorf("SRV %s: %w", name, err))
				continue
			}
			for _, rec := range recs {
				errs = append(errs, resolveHost(ctx, r, strings.TrimSuffix(rec.Target, "."), strconv.Itoa(int(rec.Port)), add)...)
			}
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("seed %q: %w", s, err))
			continue
		}
		errs = append(errs, resolveHost(ctx, r, host, port, add)...)
	}
	return addrs, errs
}

func resolveHost(ctx context.Context, r Resolver, host, port string, add func(host, port string)) []error {
	if net.ParseIP(host) != nil {
		add(host, port)
		return nil
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", host, err)}
	}
	for _, ip := range ips {
		if ip.Zone != "" {
			add(ip.IP.String()+"%"+ip.Zone, port)
		} else {
			add(ip.IP.String(), port)
		}
	}
	return nil
}
