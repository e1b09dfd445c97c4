package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// testLogger sends logs to t.Log so a passing run is quiet.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name: t.Name(), Level: hclog.Debug, Output: tWriter{t}, DisableTime: true,
	})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// newTestNode builds a started single node that shuts down with the test.
func newTestNode(t testing.TB, id NodeID, tr transport.Transport) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = id
	cfg.Transport = tr
	cfg.Logger = testLogger(t)
	if tr != nil {
		cfg.NodeID = ""
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return n
}

// waitFor polls cond until it returns nil or the deadline passes, then
// fails with the last error.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	waitWithin(t, 5*time.Second, what, cond)
}

// waitWithin polls cond every millisecond until it returns nil or d
// passes, then fails with the last error.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s: timed out after %v: %v", what, d, err)
}

// recv receives one message with a deadline.
func recv(t testing.TB, p *Process) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// probe is a process the test drives from outside: it forwards every
// message it receives to a channel.
type probe struct {
	pid PID
	ch  chan Message
	p   *Process
}

// spawnProbe spawns a probe process.
func spawnProbe(t testing.TB, n *Node, opts ...SpawnOption) *probe {
	t.Helper()
	pr := &probe{ch: make(chan Message, 1024)}
	ready := make(chan *Process, 1)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		ready <- p
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			pr.ch <- m
		}
	}, opts...)
	if err != nil {
		t.Fatalf("spawn probe: %v", err)
	}
	pr.pid = pid
	pr.p = <-ready
	return pr
}

// next returns the probe's next message or fails after a deadline.
func (pr *probe) next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-pr.ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("probe %s: no message", pr.pid)
		return Message{}
	}
}

// down returns the probe's next message as a Down.
func (pr *probe) down(t testing.TB) Down {
	t.Helper()
	m := pr.next(t)
	d, ok := m.Body.(Down)
	if !ok {
		t.Fatalf("probe %s: want Down, got %T %v", pr.pid, m.Body, m.Body)
	}
	return d
}

// none checks that the probe gets no message for a short while.
func (pr *probe) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-pr.ch:
		t.Fatalf("probe %s: unexpected message %T %v", pr.pid, m.Body, m.Body)
	case <-time.After(50 * time.Millisecond):
	}
}

// spawnWaiter spawns a process that blocks until killed, or returns the
// error sent to it as a message.
func spawnWaiter(t testing.TB, n *Node, opts ...SpawnOption) PID {
	t.Helper()
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return nil
		}
		if e, ok := m.Body.(error); ok {
			return e
		}
		return nil
	}, opts...)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	return pid
}

// fakeNet connects fakeTransports. Every envelope is msgpack round-tripped
// and delivered in order on the receiver's reader goroutine, so tests
// exercise serialization and share no pointers between nodes.
type fakeNet struct {
	mu    sync.Mutex
	nodes map[NodeID]*fakeTransport
	cut   map[[2]NodeID]bool
}

func newFakeNet() *fakeNet {
	return &fakeNet{nodes: make(map[NodeID]*fakeTransport), cut: make(map[[2]NodeID]bool)}
}

type fakeFrame struct {
	from NodeID
	b    []byte
}

type fakeTransport struct {
	net  *fakeNet
	id   NodeID
	inc  uint64
	mu   sync.Mutex
	h    transport.Handler
	in   chan fakeFrame
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

var errFakeUnknownPeer = errors.New("fake: unknown peer")

func (f *fakeNet) transport(id NodeID, inc uint64) *fakeTransport {
	ft := &fakeTransport{net: f, id: id, inc: inc, in: make(chan fakeFrame, 4096), done: make(chan struct{})}
	f.mu.Lock()
	f.nodes[id] = ft
	f.mu.Unlock()
	return ft
}

// disconnect cuts a and b apart and tells both handlers PeerDown.
func (f *fakeNet) disconnect(a, b NodeID) {
	f.mu.Lock()
	f.cut[[2]NodeID{a, b}], f.cut[[2]NodeID{b, a}] = true, true
	ta, tb := f.nodes[a], f.nodes[b]
	f.mu.Unlock()
	ta.handler().PeerDown(b, tb.inc, errors.New("fake: cut"))
	tb.handler().PeerDown(a, ta.inc, errors.New("fake: cut"))
}

func (ft *fakeTransport) handler() transport.Handler {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.h
}

func (ft *fakeTransport) LocalNode() (NodeID, uint64)    { return ft.id, ft.inc }
func (ft *fakeTransport) SetHandler(h transport.Handler) { ft.mu.Lock(); ft.h = h; ft.mu.Unlock() }
func (ft *fakeTransport) SetPeer(NodeID, string, uint64) {}
func (ft *fakeTransport) RemovePeer(NodeID)              {}
func (ft *fakeTransport) Call(context.Context, NodeID, string, []byte) ([]byte, error) {
	return nil, errors.New("fake: no calls")
}

func (ft *fakeTransport) Start() error {
	ft.wg.Add(1)
	go func() {
		defer ft.wg.Done()
		for {
			select {
			case fr := <-ft.in:
				var env transport.Envelope
				if err := msgpack.Unmarshal(fr.b, &env); err != nil {
					panic(fmt.Sprintf("fake transport: decode: %v", err))
				}
				ft.handler().HandleEnvelope(fr.from, &env)
			case <-ft.done:
				return
			}
		}
	}()
	return nil
}

func (ft *fakeTransport) Send(ctx context.Context, peer NodeID, env *transport.Envelope) error {
	ft.net.mu.Lock()
	dst, ok := ft.net.nodes[peer]
	cut := ft.net.cut[[2]NodeID{ft.id, peer}]
	ft.net.mu.Unlock()
	if !ok || cut {
		return fmt.Errorf("%w: %s", errFakeUnknownPeer, peer)
	}
	b, err := msgpack.Marshal(env)
	if err != nil {
		return err
	}
	select {
	case dst.in <- fakeFrame{from: ft.id, b: b}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-dst.done:
		return errors.New("fake: peer closed")
	}
}

func (ft *fakeTransport) Close() error {
	ft.once.Do(func() { close(ft.done) })
	ft.wg.Wait()
	return nil
}

// localEntry is an entry of the node's registries.
type localEntry = local.Entry[PID]
