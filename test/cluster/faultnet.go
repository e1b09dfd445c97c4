package cluster

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/roster-dev/roster/transport"
)

// ErrCut is returned by dials and I/O across a partition.
var ErrCut = errors.New("cluster: link cut by fault injection")

// Net decides which nodes can reach which, for every layer of an
// in-process cluster: our transport (Dialer), Raft (StreamLayer) and gossip
// (GossipTransport). A cut link refuses new connections, drops datagrams,
// and closes the connections already open across it, so both ends see a
// broken link — as with a real partition, not only in our own layer.
//
// Connections are attributed to nodes on the dialling side: each node's
// dialer knows its own id and maps the target address to a node through
// the addresses registered with Register.
type Net struct {
	mu     sync.Mutex
	addrs  map[string]transport.NodeID // host:port → node
	group  map[transport.NodeID]int    // partition group; absent = group 0
	cut    bool                        // a partition is in force
	frozen map[transport.NodeID]bool
	conns  map[*faultConn]struct{}
	// links are node pairs that reach each other across a partition (a
	// bridge node links to both sides that cannot reach each other).
	links map[[2]transport.NodeID]bool
	// oneway are directed losses: oneway[{a, b}] drops what a sends to b
	// (see OneWay).
	oneway map[[2]transport.NodeID]bool
}

// NewNet returns a fully connected network.
func NewNet() *Net {
	return &Net{addrs: map[string]transport.NodeID{}, group: map[transport.NodeID]int{},
		frozen: map[transport.NodeID]bool{}, conns: map[*faultConn]struct{}{},
		links: map[[2]transport.NodeID]bool{}, oneway: map[[2]transport.NodeID]bool{}}
}

// Register says that addr (host:port, TCP or UDP) belongs to node.
func (n *Net) Register(node transport.NodeID, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs[addr] = node
}

// Partition splits the nodes into groups that cannot reach each other.
// Nodes not named form one more group together.
func (n *Net) Partition(groups ...[]transport.NodeID) {
	n.mu.Lock()
	clear(n.group)
	clear(n.links)
	for i, g := range groups {
		for _, id := range g {
			n.group[id] = i + 1
		}
	}
	n.cut = true
	n.mu.Unlock()
	n.closeCut()
}

// Heal reconnects every group (frozen nodes stay frozen).
func (n *Net) Heal() {
	n.mu.Lock()
	clear(n.group)
	clear(n.links)
	clear(n.oneway)
	n.cut = false
	n.mu.Unlock()
}

// OneWay makes what from sends to to get lost, while to's traffic to from
// still arrives (until Heal): gossip datagrams are dropped in that
// direction only. A TCP stream needs both directions (its data or its
// acknowledgements are lost), so streams between the two break and new
// ones are refused, as on a real network with one-way loss.
func (n *Net) OneWay(from, to transport.NodeID) {
	n.mu.Lock()
	n.oneway[[2]transport.NodeID{from, to}] = true
	n.mu.Unlock()
	n.closeCut()
}

// Link lets a and b reach each other across the current partition (until
// the next Partition or Heal): with groups {a} {b} {c}, linking b to a and
// to c makes b a bridge between two sides that cannot reach each other.
func (n *Net) Link(a, b transport.NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[[2]transport.NodeID{a, b}] = true
	n.links[[2]transport.NodeID{b, a}] = true
}

// Freeze cuts node off from everyone (an in-process stand-in for SIGSTOP:
// its goroutines run on but nothing goes in or out). Thaw undoes it.
func (n *Net) Freeze(node transport.NodeID) {
	n.mu.Lock()
	n.frozen[node] = true
	n.mu.Unlock()
	n.closeCut()
}

// Thaw reconnects a frozen node.
func (n *Net) Thaw(node transport.NodeID) {
	n.mu.Lock()
	delete(n.frozen, node)
	n.mu.Unlock()
}

// Reachable reports whether a can reach b now.
func (n *Net) Reachable(a, b transport.NodeID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachableLocked(a, b)
}

// reachableLocked is whether a stream between a and b works: both
// directions must deliver.
func (n *Net) reachableLocked(a, b transport.NodeID) bool {
	return n.deliversLocked(a, b) && n.deliversLocked(b, a)
}

// deliversLocked is whether what from sends to to arrives (datagrams).
func (n *Net) deliversLocked(from, to transport.NodeID) bool {
	if from == to {
		return true
	}
	if n.frozen[from] || n.frozen[to] || n.oneway[[2]transport.NodeID{from, to}] {
		return false
	}
	return !n.cut || n.group[from] == n.group[to] || n.links[[2]transport.NodeID{from, to}]
}

// delivers reports whether a datagram from the node at fromAddr (self
// when fromAddr is "") reaches the node at toAddr; unknown addresses
// always deliver.
func (n *Net) delivers(self transport.NodeID, fromAddr, toAddr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	from, to := self, self
	if fromAddr != "" {
		id, ok := n.addrs[fromAddr]
		if !ok {
			return true
		}
		from = id
	}
	if toAddr != "" {
		id, ok := n.addrs[toAddr]
		if !ok {
			return true
		}
		to = id
	}
	return n.deliversLocked(from, to)
}

// nodeOf maps an address to its node ("" if unknown: always reachable).
func (n *Net) nodeOf(addr string) transport.NodeID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs[addr]
}

func (n *Net) allowed(self transport.NodeID, addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	peer, ok := n.addrs[addr]
	return !ok || n.reachableLocked(self, peer)
}

// closeCut closes every open connection whose link is now cut.
func (n *Net) closeCut() {
	n.mu.Lock()
	var doomed []*faultConn
	for c := range n.conns {
		if !n.reachableLocked(c.from, c.to) {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.Close()
	}
}

// wrap tracks c as a connection from self to the node at addr.
func (n *Net) wrap(self transport.NodeID, addr string, c net.Conn) net.Conn {
	fc := &faultConn{Conn: c, net: n, from: self, to: n.nodeOf(addr)}
	n.mu.Lock()
	n.conns[fc] = struct{}{}
	n.mu.Unlock()
	return fc
}

// Dial dials addr for self, refusing across a cut.
func (n *Net) Dial(ctx context.Context, self transport.NodeID, network, addr string) (net.Conn, error) {
	if !n.allowed(self, addr) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrCut}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return n.wrap(self, addr, c), nil
}

// Dialer returns a dial function for self, for transport.Config.Dialer.
func (n *Net) Dialer(self transport.NodeID) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.Dial(ctx, self, network, addr)
	}
}

// faultConn is a connection that fails once its link is cut.
type faultConn struct {
	net.Conn
	net      *Net
	from, to transport.NodeID
	once     sync.Once
}

func (c *faultConn) check() error {
	if c.to != "" && !c.net.Reachable(c.from, c.to) {
		c.Close()
		return &net.OpError{Op: "io", Net: "tcp", Err: ErrCut}
	}
	return nil
}

func (c *faultConn) Read(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *faultConn) Write(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
	})
	return c.Conn.Close()
}

// StreamLayer is a raft.StreamLayer on a real loopback listener whose
// dials go through the fault network.
type StreamLayer struct {
	net.Listener
	net  *Net
	self transport.NodeID
}
