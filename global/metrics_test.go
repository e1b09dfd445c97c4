package global

import "testing"

// Every write op has a metric name, so no write is timed under the bare
// "global.write." key.
func TestEveryOpHasAMetricName(t *testing.T) {
	for o := opRegister; o <= opRevive; o++ {
		if opNames[o] == "" {
			t.Errorf("op %d has no metric name", o)
		}
	}
}
