package cluster

import (
	"testing"
	"time"
)

func TestChaosSmoke(t *testing.T) {
	RunChaos(t, ChaosOptions{Seed: 1, Duration: 15 * time.Second})
}
