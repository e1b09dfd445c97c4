//go:build !unix

package cluster

import "time"

// groupProcessCPU is not measured on this platform.
func groupProcessCPU() time.Duration { return 0 }
