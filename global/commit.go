package global

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// enqueueTimeout bounds how long raft.Apply waits to hand an entry to the
// raft goroutine. With BatchApplyCh the apply channel is buffered, so this
// only trips when raft is badly backed up.
const enqueueTimeout = time.Second

// commitBatch is the leader's group-commit flush: one raft entry for the
// whole batch. Runs on a groupCommit goroutine.
func (t *Table) commitBatch(batch []*pending) {
	cmds := make([]command, len(batch))
	for i, p := range batch {
		cmds[i] = p.cmd
	}
	t.sample([]string{"global", "commit", "batch"}, len(cmds))
	data, err := encodeEntry(cmds)
	if err != nil {
		deliverAll(batch, resultOf(err))
		return
	}
	f := t.raft.Apply(data, enqueueTimeout)
	if err := t.waitFuture(f); err != nil {
		deliverAll(batch, result{Code: raftErrCode(err)})
		return
	}
	res, ok := f.Response().([]result)
	if !ok || len(res) != len(batch) {
		r := result{Code: codeBadCommand}
		if ok && len(res) == 1 {
			r = res[0]
		}
		deliverAll(batch, r)
		return
	}
	for i, p := range batch {
		p.done <- res[i]
	}
}

// raftErrCode classifies an Apply error: was the entry surely not
// committed (retry), or is its fate unknown (retry with the same id, report
// unknown if no retry gets an answer)?
func raftErrCode(err error) errCode {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrAbortedByRestore):
		return codeNotLeader
	case errors.Is(err, raft.ErrRaftShutdown):
		return codeShutdown
	default: // ErrLeadershipLost and anything unexpected
		return codeUnknown
	}
}

// waitFuture waits for f, or returns raft.ErrRaftShutdown once the table
// shuts down: raft leaves futures still queued in its buffered apply
// channel unanswered when it stops. The helper goroutine then stays blocked
// on f for good; at most MaxInflight+1 such futures exist per Table.
func (t *Table) waitFuture(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-t.shutdownCh:
		return raft.ErrRaftShutdown
	}
}
