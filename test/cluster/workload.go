package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// Probe is the message clients send by fenced global name. The receiving
// process records it, so the checker can tell whether it reached the owner
// of registration (Name, Fence).
type Probe struct {
	Name  string `msgpack:"n"`
	Fence uint64 `msgpack:"f"`
	// Owner is the registration's owner as the sender learned it with
	// the fence; the receiver must be this process.
	Owner transport.PID `msgpack:"o"`
}

// delivery is one Probe as received by process To.
type delivery struct {
	To    transport.PID
	Probe Probe
}

// workload runs concurrent clients against the cluster's global table.
// Each client is a process (its pid owns the names it registers, and it
// receives probes) driven by a goroutine that issues one operation at a
// time and records it in the history.
type workload struct {
	c       *Cluster
	h       *History
	names   []string
	opTime  time.Duration
	pause   time.Duration
	clients atomic.Int64

	mu         sync.Mutex
	deliveries []delivery
	known      map[string]known // name → last registration a client saw
	sends      int
	delivered  int
	counts     map[string]int // op/result → count
	// zombies are node instances whose incarnation the cluster purged
	// while they were cut off (their writes fail with ErrOwnerGone until
	// they restart), by slot.
	zombies map[int]*cnode.Node
}

func newWorkload(c *Cluster, h *History, names []string, opTime, pause time.Duration) *workload {
	return &workload{c: c, h: h, names: names, opTime: opTime, pause: pause,
		known: map[string]known{}, counts: map[string]int{}, zombies: map[int]*cnode.Node{}}
}

// spawnClient starts one client on node slot with its own seeded rand. It
// runs until ctx ends or the node instance it lives on is gone.
func (w *workload) spawnClient(ctx context.Context, slot int, nd *cnode.Node, seed uint64, wg *sync.WaitGroup) error {
	pid, err := nd.Spawn(w.receive)
	if err != nil {
		return fmt.Errorf("spawn client: %w", err)
	}
	id := int(w.clients.Add(1) - 1)
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil && w.c.Node(slot) == nd && nd.Alive(pid) {
			if w.step(ctx, id, nd, pid, r) == ResOwnerGone {
				w.mu.Lock()
				w.zombies[slot] = nd
				w.mu.Unlock()
			}
			t := time.NewTimer(time.Duration(r.Int64N(int64(w.pause) + 1)))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}()
	return nil
}

// receive is the client process: it records every Probe it gets.
func (w *workload) receive(ctx context.Context, p *node.Process) error {
	for {
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		if _, lost := m.Body.(cnode.GlobalNameLost); lost {
			continue
		}
		var pr Probe
		if m.Decode(&pr) != nil || pr.Name == "" {
			continue
		}
		w.mu.Lock()
		w.deliveries = append(w.deliveries, delivery{To: p.PID(), Probe: pr})
		w.delivered++
		w.mu.Unlock()
	}
}

// step issues one random operation on a random name.
func (w *workload) step(ctx context.Context, client int, nd *cnode.Node, pid transport.PID, r *rand.Rand) Result {
	name := w.names[r.IntN(len(w.names))]
	ctx, cancel := context.WithTimeout(ctx, w.opTime)
	defer cancel()
	in := Input{Name: name, PID: pid}
	var out Output
	var err error
	call := w.h.Now()
	switch x := r.IntN(100); {
	case x < 30:
		in.Kind = OpRegister
		var reg global.Registration
		reg, err = nd.RegisterGlobal(ctx, name, pid, nil)
		out.Owner, out.Fence = reg.Owner, reg.Fence
	case x < 40:
		in.Kind = OpReRegister
		var reg global.Registration
		reg, err = nd.ReRegisterGlobal(ctx, name, pid, nil)
		out.Owner, out.Fence = reg.Owner, reg.Fence
	case x < 60:
		in.Kind = OpUnregister
		err = nd.UnregisterGlobal(ctx, name, pid)
	case x < 85:
		w.lookup(ctx, client, nd, name, call)
		return 0
	default:
		w.send(ctx, nd, name)
		return 0
	}
	ret := w.h.Now()
	res, ok := classify(err)
	if err == nil {
		res.Owner, res.Fence = out.Owner, out.Fence
		w.learn(name, out.Fence, out.Owner)
	}
	w.count(in.Kind, res.Result, ok)
	if ok {
		w.h.Add(client, in, call, res, ret)
	}
	return res.Result
}

// takeZombies returns the slots whose current node instance was purged,
// and forgets them.
func (w *workload) takeZombies() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for slot, nd := range w.zombies {
		if w.c.Node(slot) == nd {
			out = append(out, slot)
		}
		delete(w.zombies, slot)
	}
	return out
}

// lookup does a consistent read; failed reads have no effect and are left
// out of the history.
func (w *workload) lookup(ctx context.Context, client int, nd *cnode.Node, name string, call int64) {
	reg, _, err := nd.LookupGlobal(ctx, name, global.Consistent)
	ret := w.h.Now()
	res, ok := classify(err)
	if ok && (res.Result == ResOK || res.Result == ResNotFound) {
		res.Owner, res.Fence = reg.Owner, reg.Fence
		w.h.Add(client, Input{Kind: OpLookup, Name: name}, call, res, ret)
		if err == nil {
			w.learn(name, reg.Fence, reg.Owner)
		}
	}
	w.count(OpLookup, res.Result, ok && res.Result != ResUnknown)
}

// send sends a Probe to the last registration of name a client saw,
// fenced, so only that registration's owner may receive it.
func (w *workload) send(ctx context.Context, nd *cnode.Node, name string) {
	w.mu.Lock()
	k := w.known[name]
	w.mu.Unlock()
	if k.fence == 0 {
		return
	}
	err := nd.Send(ctx, node.GlobalFenced{Name: name, Fence: k.fence}, Probe{Name: name, Fence: k.fence, Owner: k.owner})
	w.mu.Lock()
	w.sends++
	if err != nil {
		w.counts["send/error"]++
	} else {
		w.counts["send/ok"]++
	}
	w.mu.Unlock()
}

// known is a registration a client saw.
type known struct {
	fence uint64
	owner transport.PID
}

func (w *workload) learn(name string, fence uint64, owner transport.PID) {
	w.mu.Lock()
	w.known[name] = known{fence: fence, owner: owner}
	w.mu.Unlock()
}

func (w *workload) count(k OpKind, r Result, recorded bool) {
	key := fmt.Sprintf("%s/%s", k, r)
	if !recorded {
		key = fmt.Sprintf("%s/not_recorded", k)
	}
	w.mu.Lock()
	w.counts[key]++
	w.mu.Unlock()
}
