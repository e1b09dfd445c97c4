package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/roster-dev/roster/transport"
)

// pollInterval is how often waits re-check their condition.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond every 20 ms until it returns nil or d passes, and
// returns the last error seen (nil on success).
func WaitFor(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		time.Sleep(pollInterval)
	}
}

// WaitHealthy waits until every running node is healthy and they agree on
// one leader.
func (c *Cluster) WaitHealthy(d time.Duration) error {
	return WaitFor(d, func() error {
		_, err := c.agreedLeader()
		return err
	})
}

// agreedLeader returns the index of the leader every running node names.
func (c *Cluster) agreedLeader() (int, error) {
	var leader transport.NodeID
	running := c.Running()
	if len(running) == 0 {
		return -1, ErrNoLeader
	}
	for _, i := range running {
		nd := c.Node(i)
		if nd == nil {
			return -1, fmt.Errorf("%w: node %d went down", ErrNoLeader, i)
		}
		st, err := nd.Status()
		if err != nil {
			return -1, err
		}
		if !nd.Healthy() || st.Leader == "" {
			return -1, fmt.Errorf("%w: %s is %s, leader %q", ErrNoLeader, st.Node, st.RaftState, st.Leader)
		}
		if leader != "" && st.Leader != leader {
			return -1, fmt.Errorf("%w: %s follows %s, others %s", ErrNoLeader, st.Node, st.Leader, leader)
		}
		leader = st.Leader
	}
	for i, s := range c.slots {
		if s.id == leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: leader %q is not ours", ErrNoLeader, leader)
}

// Leader returns the index of the node that believes it leads, or -1 (a
// deposed leader may still believe so for a moment; see WaitLeader).
func (c *Cluster) Leader() int {
	for _, i := range c.Running() {
		if nd := c.Node(i); nd != nil && nd.GlobalTable() != nil && nd.GlobalTable().IsLeader() {
			return i
		}
	}
	return -1
}

// WaitLeader waits up to d until every running node agrees on a healthy
// leader and returns its index.
func (c *Cluster) WaitLeader(d time.Duration) (int, error) {
	leader := -1
	err := WaitFor(d, func() error {
		var err error
		leader, err = c.agreedLeader()
		return err
	})
	return leader, err
}

// WaitConverged commits a barrier write (it re-registers
// FailoverProbeName through the leader) and waits until every running
// node's replica has applied it, so replicas can be compared.
func (c *Cluster) WaitConverged(ctx context.Context, d time.Duration) error {
	var idx uint64
	return WaitFor(d, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if idx == 0 {
			reg, err := c.probeWrite(ctx)
			if err != nil {
				return err
			}
			idx = reg.Index
		}
		for _, i := range c.Running() {
			st, err := c.Node(i).Status()
			if err != nil {
				return err
			}
			if st.Applied < idx {
				return fmt.Errorf("%s applied %d < barrier %d", st.Node, st.Applied, idx)
			}
		}
		return nil
	})
}
