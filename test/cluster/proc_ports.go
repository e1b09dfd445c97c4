package cluster

import (
	"fmt"
	"net"
)

// procPorts are the four ports of one agent, fixed for its life so that a
// restart comes back on the same addresses (peers and raft know them).
type procPorts struct {
	Gossip int // memberlist, TCP and UDP
	Port   int // our transport
	Raft   int
	HTTP   int
}

// procFreePorts picks n sets of free loopback ports. Every port is held
// open until all are chosen, so no two sets share one; gossip ports are
// free for UDP as well. Another program may still take a port in the short
// gap before the agent binds it; the agent then fails to start, loudly.
func procFreePorts(n int) ([]procPorts, error) {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	tcp := func() (int, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		closers = append(closers, ln.Close)
		return ln.Addr().(*net.TCPAddr).Port, nil
	}
	gossip := func() (int, error) {
		for range 20 {
			p, err := tcp()
			if err != nil {
				return 0, err
			}
			pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				continue // taken for UDP: try another
			}
			closers = append(closers, pc.Close)
			return p, nil
		}
		return 0, fmt.Errorf("free port: no TCP port that is also free for UDP")
	}
	out := make([]procPorts, n)
	for i := range out {
		var err error
		if out[i].Gossip, err = gossip(); err != nil {
			return nil, err
		}
		for _, p := range []*int{&out[i].Port, &out[i].Raft, &out[i].HTTP} {
			if *p, err = tcp(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
