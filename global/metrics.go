package global

import "time"

// Metric keys emitted when Config.Metrics is set (all prefixed by the
// Metrics instance's service name):
//
//	global.write.<op>        timer: a write from call to outcome, retries included
//	global.write.unknown     counter: writes that ended with ErrOutcomeUnknown
//	global.write.no_quorum   counter: writes that ended with ErrNoQuorum
//	global.commit.batch      sample: commands per raft log entry (leader)
//	global.forward.batch     sample: commands per forwarded RPC (follower)
//	global.read.consistent   timer: a Consistent Lookup or List

var opNames = map[op]string{
	opRegister: "register", opReRegister: "re_register", opUnregister: "unregister",
	opUnregisterPID: "unregister_pid", opPurge: "purge", opUpdateMeta: "update_meta",
	opRevive: "revive",
}

func (t *Table) measure(key []string, start time.Time) {
	if t.cfg.Metrics != nil {
		t.cfg.Metrics.MeasureSince(key, start)
	}
}

func (t *Table) incr(key []string) {
	if t.cfg.Metrics != nil {
		t.cfg.Metrics.IncrCounter(key, 1)
	}
}

func (t *Table) sample(key []string, v int) {
	if t.cfg.Metrics != nil {
		t.cfg.Metrics.AddSample(key, float32(v))
	}
}
