package transport_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/roster-dev/roster/transport"
)

// printer is a minimal Handler: it prints envelopes and answers "greet".
type printer struct {
	got chan *transport.Envelope
}

// HandleEnvelope keeps a copy: env is only valid during the call.
func (p *printer) HandleEnvelope(from transport.NodeID, env *transport.Envelope) {
	e := *env
	e.Body = append([]byte(nil), env.Body...)
	p.got <- &e
}

func (p *printer) HandleRequest(ctx context.Context, from transport.NodeID, method string, body []byte) ([]byte, error) {
	if method != "greet" {
		return nil, fmt.Errorf("no method %q", method)
	}
	return []byte("hello " + string(from) + ", you sent " + string(body)), nil
}

func (p *printer) PeerUp(peer transport.NodeID, incarnation uint64)                {}
func (p *printer) PeerDown(peer transport.NodeID, incarnation uint64, cause error) {}

// node starts a TCP transport on a loopback port.
func node(id transport.NodeID, inc uint64, h transport.Handler) (*transport.TCPTransport, error) {
	cfg := transport.DefaultLocalConfig()
	cfg.NodeID, cfg.Incarnation = id, inc
	cfg.ClusterID = "example"
	cfg.ClusterKey = []byte("a shared secret of 32 bytes.....")
	cfg.Logger = hclog.NewNullLogger()
	tr, err := transport.NewTCPTransport(cfg)
	if err != nil {
		return nil, err
	}
	tr.SetHandler(h)
	if err := tr.Start(); err != nil {
		_ = tr.Close()
		return nil, err
	}
	return tr, nil
}

// Two nodes over TCP: a message to a process, then an RPC.
func ExampleNewTCPTransport() {
	pa, pb := &printer{got: make(chan *transport.Envelope, 1)}, &printer{got: make(chan *transport.Envelope, 1)}
	a, err := node("a", 1, pa)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	b, err := node("b", 2, pb)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	a.SetPeer("b", b.Addr(), 2) // normally done by membership

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	to := transport.PID{Node: "b", Incarnation: 2, Serial: 1}
	if err := a.Send(ctx, "b", &transport.Envelope{Kind: transport.KindMessage, To: to, Body: []byte("ping")}); err != nil {
		fmt.Println(err)
		return
	}
	env := <-pb.got
	fmt.Printf("b got %q for %v\n", env.Body, env.To)

	resp, err := a.Call(ctx, "b", "greet", []byte("42"))
	fmt.Println(string(resp), err)

	_, err = a.Call(ctx, "b", "nope", nil)
	var re *transport.RemoteError
	fmt.Println(errors.As(err, &re), re.Msg)
	// Output:
	// b got "ping" for b.2.1
	// hello a, you sent 42 <nil>
	// true no method "nope"
}

// The in-memory network for tests: a partition fails calls like a broken
// connection, and Heal restores them.
func ExampleInmemNetwork_Partition() {
	network := transport.NewInmemNetwork(1)
	var nodes []*transport.InmemTransport
	for i, id := range []transport.NodeID{"a", "b"} {
		cfg := transport.DefaultLocalConfig()
		cfg.NodeID, cfg.Incarnation = id, uint64(i+1)
		cfg.Logger = hclog.NewNullLogger()
		tr, err := network.NewTransport(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer tr.Close()
		tr.SetHandler(&printer{got: make(chan *transport.Envelope, 1)})
		if err := tr.Start(); err != nil {
			fmt.Println(err)
			return
		}
		nodes = append(nodes, tr)
	}
	a, b := nodes[0], nodes[1]
	a.SetPeer("b", b.Addr(), 0)
	ctx := context.Background()

	network.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
	_, err := a.Call(ctx, "b", "greet", nil)
	var pe *transport.PeerError
	fmt.Println("partitioned:", errors.As(err, &pe), pe.Peer)

	network.Heal()
	resp, err := a.Call(ctx, "b", "greet", []byte("again"))
	fmt.Println("healed:", string(resp), err)
	// Output:
	// partitioned: true b
	// healed: hello a, you sent again <nil>
}

// DefaultConfig plus the two required fields is a working configuration.
func ExampleDefaultConfig() {
	cfg := transport.DefaultConfig()
	cfg.NodeID, cfg.Incarnation = "web-1", 0x5eed
	fmt.Println(cfg.Validate(), cfg.MaxFrameSize, cfg.QueueSize, cfg.BindAddr)
	cfg.Incarnation = 0
	fmt.Println(errors.Is(cfg.Validate(), transport.ErrBadConfig))
	// Output:
	// <nil> 4194304 4096 127.0.0.1:0
	// true
}
