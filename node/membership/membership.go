package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/roster-dev/roster/transport"
)

// Membership is this node's view of the cluster, kept by gossip.
type Membership struct {
	cfg    Config
	log    hclog.Logger
	ml     *memberlist.Memberlist
	events *eventQueue
	ring   *memberlist.Keyring // nil without a key
	limit  *limitedTransport   // nil when Config.Transport is set

	metaMu sync.Mutex
	meta   Meta
	metaB  []byte

	mu      sync.Mutex
	seeds   []string
	seen    map[transport.NodeID]string // node → last gossip address
	members map[transport.NodeID]Member // as the delegates last reported

	stopOnce sync.Once
	stopCh   chan struct{}
	stopped  chan struct{} // closed when Shutdown's work is done
	stopErr  error
	stopCtx  context.Context // cancelled with stopCh closing (DNS lookups)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New starts gossip on the configured address. It does not join anyone:
// call Join.
func New(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg
	c.setDefaults()
	m := &Membership{
		cfg:     c,
		log:     c.Logger.Named("membership"),
		events:  newEventQueue(),
		meta:    c.Meta,
		metaB:   mustEncode(&c.Meta),
		seen:    make(map[transport.NodeID]string),
		members: make(map[transport.NodeID]Member),
		stopCh:  make(chan struct{}), stopped: make(chan struct{}),
	}
	m.stopCtx, m.cancel = context.WithCancel(context.Background())
	mc, err := m.memberlistConfig()
	if err != nil {
		return nil, err
	}
	var lt *limitedTransport
	if mc.Transport == nil {
		if lt, err = newLimitedTransport(mc, mc.Logger); err != nil {
			return nil, err
		}
		mc.Transport, m.limit = lt, lt
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		if lt != nil {
			_ = lt.Shutdown()
		}
		return nil, fmt.Errorf("membership: start gossip: %w", err)
	}
	m.ml = ml
	if c.RejoinInterval > 0 {
		m.goTracked(m.rejoinLoop)
	}
	return m, nil
}

func (m *Membership) memberlistConfig() (*memberlist.Config, error) {
	c := m.cfg
	mc := memberlist.DefaultLANConfig()
	if c.Memberlist != nil {
		base := *c.Memberlist
		mc = &base
	}
	// A node restarted at a new address may take its name back as soon as
	// its old self is dead or left.
	mc.DeadNodeReclaimTime = time.Nanosecond
	mc.Name = string(c.Meta.Node)
	mc.Label = "roster/" + c.Meta.Cluster
	mc.BindAddr, mc.BindPort = c.BindAddr, c.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = c.AdvertiseAddr, c.AdvertisePort
	mc.Transport = c.Transport
	if len(c.Key) > 0 {
		kr, err := memberlist.NewKeyring(c.Keys, c.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		mc.Keyring, m.ring = kr, kr
	}
	d := &delegate{m: m}
	mc.Delegate, mc.Events, mc.Alive, mc.Merge, mc.Conflict = d, d, d, d, d
	mc.LogOutput = nil
	mc.Logger = m.log.Named("gossip").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	if c.Tune != nil {
		c.Tune(mc)
	}
	return mc, nil
}

// Addr returns the gossip address peers use to join this node.
func (m *Membership) Addr() string {
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Join contacts seeds and merges state with those that answer. A seed is
// IP:port, HOST:port (every A and AAAA record of HOST is contacted) or
// SRVSeedPrefix+NAME (every SRV record's target and port). The seeds are
// remembered and re-dialled by the rejoin loop, which resolves their names
// again each time. It returns how many addresses answered; none answering
// (or none resolving) is ErrNoSeedsJoined.
func (m *Membership) Join(ctx context.Context, seeds []string) (int, error) {
	m.mu.Lock()
	m.seeds = append(m.seeds[:0:0], seeds...)
	m.mu.Unlock()
	if len(seeds) == 0 {
		return 0, nil
	}
	addrs, errs := resolveSeeds(ctx, m.cfg.Resolver, seeds)
	if len(addrs) == 0 {
		return 0, fmt.Errorf("%w: no seed resolved: %w", ErrNoSeedsJoined, errors.Join(errs...))
	}
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() { n, err := m.ml.Join(addrs); ch <- result{n, err} }()
	select {
	case r := <-ch:
		if r.n == 0 {
			return 0, fmt.Errorf("%w: %w", ErrNoSeedsJoined, r.err)
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-m.stopCh:
		return 0, ErrShutdown
	}
}

// Events returns the channel of membership changes. It is closed by
// Shutdown. Events are delivered in order; slow readers delay nothing else.
func (m *Membership) Events() <-chan Event { return m.events.out }

// Members returns every member gossip has reported, with its state, this
// node included; dead and left members stay listed until they come back.
// (memberlist's own Members hands out nodes it keeps mutating; this keeps
// copies made in its callbacks instead.)
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, mem)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Meta.Node < out[j].Meta.Node })
	return out
}

// Member returns the member with id, if gossip has reported it.
func (m *Membership) Member(id transport.NodeID) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[id]
	return mem, ok
}

// NumAlive returns the number of alive members, this node included.
func (m *Membership) NumAlive() int { return m.ml.NumMembers() }

// HealthScore is memberlist's local health awareness (0 is healthy).
func (m *Membership) HealthScore() int { return m.ml.GetHealthScore() }

// Meta returns this node's current meta.
func (m *Membership) Meta() Meta {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return m.meta
}

// UpdateMeta changes this node's meta and gossips it.
func (m *Membership) UpdateMeta(ctx context.Context, fn func(*Meta)) error {
	m.metaMu.Lock()
	next := m.meta
	fn(&next)
	next.Node, next.Incarnation, next.Cluster = m.meta.Node, m.meta.Incarnation, m.meta.Cluster
	b, err := next.encode()
	if err == nil {
		m.meta, m.metaB = next, b
	}
	m.metaMu.Unlock()
	if err != nil {
		return err
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return m.ml.UpdateNode(timeout)
}

// Leave tells the cluster this node is leaving, waiting up to ctx's
// deadline (default 5s) for the message to spread. Peers see EventLeave,
// not EventDead. Shutdown must still be called.
func (m *Membership) Leave(ctx context.Context) error {
	if err := m.UpdateMeta(ctx, func(meta *Meta) { meta.Leaving = true }); err != nil {
		m.log.Warn("could not announce leave intent", "error", err)
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return m.ml.Leave(timeout)
}

// Shutdown stops gossip without telling anyone (peers will see this node
// die unless Leave was called first) and waits for that or for ctx's end
// (the shutdown then goes on in the background). It is idempotent; later
// calls wait for the first and return its error.
func (m *Membership) Shutdown(ctx context.Context) error {
	m.stopOnce.Do(func() {
		go func() {
			defer close(m.stopped)
			close(m.stopCh)
			m.cancel()
			m.stopErr = m.ml.Shutdown()
			m.wg.Wait()
			m.events.close()
		}()
	})
	select {
	case <-m.stopped:
		return m.stopErr
	case <-ctx.Done():
		return fmt.Errorf("membership: shutdown: %w", ctx.Err())
	}
}

func (m *Membership) goTracked(fn func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); fn() }()
}

// rejoinLoop re-dials seeds and every member seen that is not alive now, so
// that after a partition heals both halves merge again.
func (m *Membership) rejoinLoop() {
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stopCh:
			return
		case <-t.C:
		}
		targets, errs := m.resolveTargets(m.rejoinTargets())
		if len(errs) > 0 {
			m.log.Debug("rejoin: seeds did not resolve", "error", errors.Join(errs...))
		}
		if len(targets) == 0 {
			continue
		}
		if n, err := m.ml.Join(targets); err != nil && n == 0 {
			m.log.Trace("rejoin found nobody", "targets", targets, "error", err)
		}
	}
}

// resolveTargets resolves the rejoin targets' names; the lookups end when
// the membership stops.
func (m *Membership) resolveTargets(targets []string) ([]string, []error) {
	return resolveSeeds(m.stopCtx, m.cfg.Resolver, targets)
}

func (m *Membership) rejoinTargets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var targets []string
	alive := 0
	for id, addr := range m.seen {
		if m.members[id].State == StateAlive {
			alive++
		} else if id != m.cfg.Meta.Node {
			targets = append(targets, addr)
		}
	}
	if len(targets) > 0 || alive <= 1 {
		targets = append(targets, m.seeds...)
	}
	return targets
}

func toMember(n *memberlist.Node) (Member, bool) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		return Member{}, false
	}
	// memberlist does not keep Node.State current; Members only returns
	// live nodes, and events set the state they report.
	return Member{Meta: meta, Addr: n.Address(), State: StateAlive}, true
}
