package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/testhook"
	"github.com/roster-dev/roster/transport"
)

// emfileListener fails Accept with EMFILE while failing is set.
type emfileListener struct {
	net.Listener
	failing atomic.Bool
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failing.Load() {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestTransportHealthReportsAcceptFailures: while the transport's Accept
// fails with EMFILE the node says so (the daemon's /v1/health consults
// TransportHealth), and the accept errors are counted; once Accept works
// again the node is healthy.
func TestTransportHealthReportsAcceptFailures(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &emfileListener{Listener: inner}
	ln.failing.Store(true)
	nd := newClusterNodeWith(t, "n1", t.TempDir(), 1, nil,
		testhook.Cluster{Transport: func(tc *transport.Config) { tc.Listener = ln }})
	waitFor(t, 10*time.Second, func() error {
		if err := nd.TransportHealth(); !errors.Is(err, transport.ErrNotAccepting) {
			return fmt.Errorf("transport health %v, want ErrNotAccepting", err)
		}
		if nd.TransportStats().AcceptErrors == 0 {
			return errors.New("accept errors not counted")
		}
		return nil
	})
	ln.failing.Store(false)
	waitFor(t, 10*time.Second, nd.TransportHealth)
}
