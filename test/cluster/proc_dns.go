package cluster

import (
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/miekg/dns"
)

// procDNS is a DNS server on loopback for the agents' -join-resolver: it
// answers A and AAAA queries from records a test changes while it runs
// (as Kubernetes updates a headless Service's records when a pod is
// replaced), NXDOMAIN for names it does not hold. Safe for concurrent use.
type procDNS struct {
	Addr string // IP:port, for -join-resolver

	srv     *dns.Server
	mu      sync.Mutex
	records map[string][]net.IP // fqdn → addresses
}

// startProcDNS starts the server; Close stops it.
func startProcDNS() (*procDNS, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	d := &procDNS{Addr: pc.LocalAddr().String(), records: map[string][]net.IP{}}
	d.srv = &dns.Server{PacketConn: pc, Handler: d}
	go func() { _ = d.srv.ActivateAndServe() }()
	return d, nil
}

// Close stops the server.
func (d *procDNS) Close() error { return d.srv.Shutdown() }

// Set replaces name's address records.
func (d *procDNS) Set(name string, ips ...string) {
	recs := make([]net.IP, 0, len(ips))
	for _, ip := range ips {
		recs = append(recs, net.ParseIP(ip))
	}
	d.mu.Lock()
	d.records[dns.Fqdn(name)] = recs
	d.mu.Unlock()
}

// ServeDNS answers one query (miekg/dns calls it per request).
func (d *procDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	d.mu.Lock()
	for _, q := range req.Question {
		ips, ok := d.records[q.Name]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET}
		for _, ip := range ips {
			switch {
			case q.Qtype == dns.TypeA && ip.To4() != nil:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.To4()})
			case q.Qtype == dns.TypeAAAA && ip.To4() == nil:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
			}
		}
	}
	d.mu.Unlock()
	_ = w.WriteMsg(m)
}

// procPortOnAll finds a port free for TCP and UDP on every ip (a gossip
// port shared by agents on several loopback addresses, as pods share one
// behind a headless Service).
func procPortOnAll(ips ...string) (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		free := true
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
			free = free && err1 == nil && err2 == nil
		}
		if free {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on all of %v", ips)
}
