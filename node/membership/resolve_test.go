package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/roster-dev/roster/transport"
)

// testDNS is a DNS server on loopback whose A, AAAA and SRV records a test
// changes while it runs; it counts the queries it answered.
type testDNS struct {
	addr string

	mu      sync.Mutex
	a       map[string][]net.IP // fqdn → A and AAAA addresses
	srv     map[string][]*dns.SRV
	queries int
}

func startTestDNS(t *testing.T) *testDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &testDNS{addr: pc.LocalAddr().String(), a: map[string][]net.IP{}, srv: map[string][]*dns.SRV{}}
	srv := &dns.Server{PacketConn: pc, Handler: d}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

// set replaces name's address records.
func (d *testDNS) set(name string, ips ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.a[dns.Fqdn(name)] = nil
	for _, ip := range ips {
		d.a[dns.Fqdn(name)] = append(d.a[dns.Fqdn(name)], net.ParseIP(ip))
	}
}

func (d *testDNS) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries
}

func (d *testDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	d.mu.Lock()
	d.queries++
	for _, q := range req.Question {
		ips, known := d.a[q.Name]
		srvs, knownSRV := d.srv[q.Name]
		if !known && !knownSRV {
			m.Rcode = dns.RcodeNameError
		}
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 0}
		for _, ip := range ips {
			switch {
			case q.Qtype == dns.TypeA && ip.To4() != nil:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.To4()})
			case q.Qtype == dns.TypeAAAA && ip.To4() == nil:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
			}
		}
		if q.Qtype == dns.TypeSRV {
			for _, s := range srvs {
				rr := *s
				rr.Hdr = hdr
				m.Answer = append(m.Answer, &rr)
			}
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// resolver is a Go resolver that asks only d.
func (d *testDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.addr)
	}}
}

// startAt starts a member gossiping on bind:port that resolves seeds with r.
func startAt(t *testing.T, id, bind string, port int, r Resolver) *Membership {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Memberlist, cfg.RejoinInterval = fastMemberlist(), time.Second
	cfg.BindAddr, cfg.BindPort = bind, port
	cfg.Resolver = r
	cfg.Logger = testLogger(t)
	cfg.Meta = Meta{Cluster: "c1", Node: transport.NodeID(id), Incarnation: 1,
		Transport: "127.0.0.1:1", Raft: "127.0.0.1:2", Role: RoleServer}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// freePortOn finds one port free for TCP and UDP on every ip.
func freePortOn(t *testing.T, ips ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range ips {
			a := net.JoinHostPort(ip, strconv.Itoa(port))
			tl, err1 := net.Listen("tcp", a)
			ul, err2 := net.ListenPacket("udp", a)
			if tl != nil {
				tl.Close()
			}
			if ul != nil {
				ul.Close()
			}
			ok = ok && err1 == nil && err2 == nil
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

// TestJoinDNSNameReresolvedAndEveryRecordJoined: a seed that is a DNS name
// is resolved again at every rejoin attempt (it resolves to nothing at
// first, as a Kubernetes headless Service before its pods exist), and
// every address record is joined: two members that know nobody both meet
// the joiner, and so each other.
func TestJoinDNSNameReresolvedAndEveryRecordJoined(t *testing.T) {
	d := startTestDNS(t)
	port := freePortOn(t, "127.0.0.2", "127.0.0.3")
	a := startAt(t, "a", "127.0.0.2", port, nil)
	b := startAt(t, "b", "127.0.0.3", port, nil)
	c := startAt(t, "c", "127.0.0.1", 0, d.resolver())
	seed := net.JoinHostPort("peers.roster.test", strconv.Itoa(port))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Join(ctx, []string{seed}); !errors.Is(err, ErrNoSeedsJoined) {
		t.Fatalf("join of a name with no records: %v, want ErrNoSeedsJoined", err)
	}
	before := d.count()
	d.set("peers.roster.test", "127.0.0.2", "127.0.0.3")
	waitFor(t, 15*time.Second, func() error {
		for _, m := range []*Membership{a, b, c} {
			if n := m.NumAlive(); n != 3 {
				return fmt.Errorf("%s sees %d alive, want 3", m.Meta().Node, n)
			}
		}
		return nil
	})
	if d.count() <= before {
		t.Errorf("the rejoin loop did not query DNS again (%d queries before the records existed, %d after)", before, d.count())
	}
}

// TestJoinDNSAAAA: an IPv6 address record is joined.
func TestJoinDNSAAAA(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		l.Close()
	}
	d := startTestDNS(t)
	port := freePortOn(t, "::1")
	a := startAt(t, "a", "::1", port, nil)
	b := startAt(t, "b", "::1", 0, d.resolver())
	d.set("v6.roster.test", "::1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := b.Join(ctx, []string{net.JoinHostPort("v6.roster.test", strconv.Itoa(port))}); err != nil || n != 1 {
		t.Fatalf("join via AAAA: %d, %v", n, err)
	}
	waitFor(t, 5*time.Second, func() error {
		if a.NumAlive() != 2 {
			return errors.New("a does not see b")
		}
		return nil
	})
}

// TestResolveSeeds covers the seed forms: IP:port kept, names expanded to
// every A and AAAA record, SRV records expanded with their ports,
// duplicates dropped, failures reported without losing the rest.
func TestResolveSeeds(t *testing.T) {
	d := startTestDNS(t)
	d.set("two.test", "127.0.0.5", "::1")
	d.set("t1.test", "127.0.0.6")
	d.mu.Lock()
	d.srv["_gossip._tcp.svc.test."] = []*dns.SRV{{Target: "t1.test.", Port: 9001}, {Target: "two.test.", Port: 9002}}
	d.mu.Unlock()
	got, errs := resolveSeeds(context.Background(), d.resolver(), []string{
		"127.0.0.9:1", "two.test:7946", "two.test:7946", "missing.test:1", SRVSeedPrefix + "_gossip._tcp.svc.test", "bad-seed",
	})
	want := []string{"127.0.0.9:1", "127.0.0.5:7946", "[::1]:7946", "127.0.0.6:9001", "127.0.0.5:9002", "[::1]:9002"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resolved %q, want %q", got, want)
	}
	if len(errs) != 2 {
		t.Errorf("errors %v, want 2 (missing.test, bad-seed)", errs)
	}
}
