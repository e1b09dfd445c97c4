// Package transport carries messages, monitor and exit signals, and RPCs
// between Roster nodes: msgpack frames over TCP (optionally mutual TLS), and
// an in-memory twin for tests. It imports no other Roster package but
// internal/queue (a leaf: a generic FIFO).
//
// # Role
//
// The node package owns processes and monitors; it hands the transport
// Envelopes addressed to processes on other nodes (Send) and receives the
// peer's envelopes, requests and connection events through a Handler. The
// global package uses Call to forward writes to the Raft leader.
// Membership (memberlist) tells the transport where peers are (SetPeer) and
// when they are gone (RemovePeer); the transport tells the layer above when a
// connection comes up or breaks (PeerUp/PeerDown), which is how monitors of
// remote processes fire with "noconnection".
//
// # Wire
//
// Every frame is a 4-byte big-endian length, a one-byte frame type (an
// append-only enum: see codec.go) and a msgpack body keyed by short tag
// names. Frames longer than Config.MaxFrameSize are refused before any
// allocation. Each connection starts with a handshake (protocol version and
// cluster id, an HMAC-SHA256 challenge-response over fresh nonces when
// Config.ClusterKey is set, then node ids and incarnations, which neither
// side reveals before the other has proven the key; see handshake.go) that
// must finish within Config.HandshakeTimeout. A malformed frame, an unknown
// type, a refused handshake or a flood of requests closes that connection
// only, with the reason logged. Both transports decode frames with one
// dispatcher (dispatch.go). An inbound Envelope, Body included, is only
// valid during Handler.HandleEnvelope: receiving one allocates nothing.
//
// # Listener
//
// Inbound connections that have not proven the key yet hold one of
// Config.MaxPendingHandshakes slots (at most Config.MaxPendingHandshakesPerIP
// per source address), read through a buffer of one handshake frame, and
// for at most HandshakeTimeout. A newcomer is never refused: when the slots
// are full, the oldest pending handshake of the source holding the most
// slots is closed, so a flood of idle connections displaces only itself and
// a restarted peer gets through. A failed Accept (EMFILE, ENFILE...) never
// stops the accept loop: it backs off (5ms doubling to 1s, as net/http) and
// TCPTransport.Health reports ErrNotAccepting while Accepts are failing.
// Stats counts accept errors, handshake evictions and refusals, and the
// envelopes the transport accepted and then dropped.
//
// # Connections and ordering
//
// A TCPTransport keeps one outbound connection per peer, dialled lazily by
// the peer's writer goroutine and redialled after failures with exponential
// backoff and jitter (during the backoff Send and Call fail fast with a
// *PeerError). It sends envelopes, requests and cancels only on that
// connection, so what one node sends to another arrives in order, at most
// once; responses travel back on the connection the request came in on.
// Frames queued when a connection breaks are dropped, never resent (and
// counted in Stats.Dropped). The dialer numbers its connections in its
// auth message, and the receiver delivers
// only from a peer's newest one, so frames still buffered on a dead
// connection can never overtake those sent on its successor.
// Each peer's queue is bounded (Config.QueueSize frames, Config.QueueBytes
// bytes): Send blocks until there is room or its ctx ends; TrySend returns
// ErrQueueFull instead. The writer takes everything queued at once and
// writes it with one syscall (write coalescing).
//
// # Concurrency
//
// All methods are safe for concurrent use. Goroutines: one accept loop, one
// writer per peer with an address, one reader per connection (which first
// runs an inbound connection's handshake), one response
// writer per inbound connection, one goroutine per RPC being served, and
// one that delivers PeerUp/PeerDown in order; all are tracked and Close waits
// for them. HandleEnvelope runs on the reader goroutine (in order; it must
// not block; it runs under peer.deliverMu, which is never taken with
// TCPTransport.mu held, so it may call Send). Lock order: TCPTransport.mu,
// then peer.callMu, then sendQueue.mu; requests.mu, handshakePool.mu,
// acceptState.mu and the event queue's (internal/queue) are leaves. PeerUp
// and PeerDown run with no lock held. The in-memory transport uses
// InmemNetwork.mu, then sendQueue.mu, with
// requests.mu a leaf, and InmemTransport.deliverMu around HandleEnvelope.
//
// The Handler's from argument is the peer's authenticated node id;
// Envelope.From is what the peer claims and is not checked here.
//
// # Usage
//
//	cfg := transport.DefaultConfig()
//	cfg.NodeID, cfg.Incarnation = "web-1", incarnation
//	cfg.ClusterKey = key
//	tr, err := transport.NewTCPTransport(cfg)
//	if err != nil { ... }
//	tr.SetHandler(node)
//	if err := tr.Start(); err != nil { ... }
//	defer tr.Close()
//	tr.SetPeer("web-2", "10.0.0.2:7946", 0) // from membership
//	err = tr.Send(ctx, "web-2", &transport.Envelope{Kind: transport.KindMessage, To: pid, Body: body})
//	resp, err := tr.Call(ctx, "web-2", "global.register", req)
//
// Tests use NewInmemNetwork(seed).NewTransport(cfg) instead, with
// Partition, Heal and SetLinkFaults to inject faults.
package transport
