package global

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLookupLocalDoesNotAllocate(t *testing.T) {
	c := newTestCluster(t, 1, hclog.Info)
	tb := c.tables[0]
	if _, err := tb.Register(context.Background(), "svc", pid("n1", 1, 1), []byte("m")); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := tb.Lookup(context.Background(), "svc"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %v times per call", allocs)
	}
	if _, info, _ := tb.Lookup(context.Background(), "svc"); info.Stale || info.Index == 0 {
		t.Fatalf("leader read info: %+v", info)
	}
}
