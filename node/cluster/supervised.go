package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

var _ node.GlobalRegistrar = (*Node)(nil)

// reRegisterPoll is how often RegisterGlobalName looks again while a dead
// predecessor's registration is still being removed.
const reRegisterPoll = 10 * time.Millisecond

// RegisterGlobalName implements node.GlobalRegistrar, for supervisors whose
// children carry a global name (SupervisorSpec.Global = the cluster node):
// it registers name for pid, and while the name is still held by a process
// of this node that has exited (its exit cleanup unregisters it through
// Raft a moment later) it waits and tries again, so a restarted child gets
// its name only once the old owner's registration is gone: never two
// owners. A live holder, or a holder on another node, fails it with a
// *node.AlreadyStartedError; ctx bounds the wait.
func (n *Node) RegisterGlobalName(ctx context.Context, name string, pid node.PID) error {
	for {
		_, err := n.RegisterGlobal(ctx, name, pid, nil)
		if err == nil {
			return nil
		}
		var are *global.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
		if are.Owner == pid {
			return nil
		}
		if are.Owner.Node != n.ID() || n.Alive(are.Owner) {
			return &node.AlreadyStartedError{PID: are.Owner, Err: err}
		}
		select {
		case <-time.After(reRegisterPoll):
		case <-ctx.Done():
			return fmt.Errorf("cluster: register %q: the dead owner %s still holds it: %w", name, are.Owner, ctx.Err())
		}
	}
}
