package node_test

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// Charge is a message type both nodes register.
type Charge struct {
	ID     int    `msgpack:"id"`
	Amount string `msgpack:"amount"`
}

// Register a message type on two nodes, so that a process switching on
// the body's type sees a Charge from a remote sender too, not a
// map[string]any.
func ExampleRegisterType() {
	ctx := context.Background()
	net := transport.NewInmemNetwork(1) // TCP works the same way
	var nodes []*node.Node
	var trs []*transport.InmemTransport
	for i, id := range []transport.NodeID{"billing-1", "billing-2"} {
		cfg := transport.DefaultLocalConfig()
		cfg.NodeID, cfg.Incarnation, cfg.Logger = id, uint64(i+1), hclog.NewNullLogger()
		tr, err := net.NewTransport(cfg)
		if err != nil {
			panic(err)
		}
		ncfg := node.DefaultConfig()
		ncfg.NodeID, ncfg.Transport, ncfg.Logger = "", tr, hclog.NewNullLogger()
		n, err := node.New(ncfg)
		if err != nil {
			panic(err)
		}
		if err := node.RegisterType[Charge](n, "billing.Charge"); err != nil {
			panic(err)
		}
		if err := n.Start(ctx); err != nil {
			panic(err)
		}
		defer n.Shutdown(ctx)
		nodes, trs = append(nodes, n), append(trs, tr)
	}
	trs[0].SetPeer("billing-2", trs[1].Addr(), 0)
	trs[1].SetPeer("billing-1", trs[0].Addr(), 0)

	done := make(chan struct{})
	pid, _ := nodes[1].Spawn(func(ctx context.Context, p *node.Process) error {
		defer close(done)
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		switch body := m.Body.(type) {
		case Charge:
			fmt.Println("charge", body.ID, body.Amount, "remote:", m.Remote())
		default:
			fmt.Printf("unexpected %T\n", body)
		}
		return nil
	})
	if err := nodes[0].Send(ctx, pid, Charge{ID: 42, Amount: "9.99"}); err != nil {
		panic(err)
	}
	<-done
	// Output: charge 42 9.99 remote: true
}
