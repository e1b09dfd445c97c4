//go:build unix

package cluster

import (
	"syscall"
	"time"
)

// groupProcessCPU returns the CPU time (user + system) the process has
// used, so benchmarks can report a figure that does not depend on how busy
// the machine is.
func groupProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
