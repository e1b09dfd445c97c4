package global

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestListPage(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Warn)
	leader := c.tables[c.waitLeader()]
	for i := range 25 {
		if _, err := leader.Register(testCtx(t, 5*time.Second), fmt.Sprintf("p/%02d", i), pid("n1", 1, uint64(i+1)), nil); err != nil {
			t.Fatal(err)
		}
	}
	f := c.tables[c.follower()]
	for _, opts := range [][]ReadOption{{Consistent}, nil} {
		waitFor(t, 5*time.Second, func() error {
			var names []string
			after, pages := "", 0
			for {
				regs, next, _, err := f.ListPage(testCtx(t, 5*time.Second), "p/", after, 10, opts...)
				if err != nil {
					return err
				}
				for _, r := range regs {
					names = append(names, r.Name)
				}
				pages++
				if next == "" {
					break
				}
				after = next
			}
			if len(names) != 25 || pages != 3 || names[0] != "p/00" || names[24] != "p/24" {
				return fmt.Errorf("consistent=%v: %d names in %d pages: %v", opts != nil, len(names), pages, names)
			}
			return nil
		})
	}
	if _, _, _, err := f.ListPage(testCtx(t, time.Second), "", "", MaxPageLimit+1); !errors.Is(err, ErrBadLimit) {
		t.Fatalf("limit above max: %v", err)
	}
	if regs, next, _, err := f.ListPage(testCtx(t, time.Second), "", "", 0); err != nil || len(regs) != 25 || next != "" {
		t.Fatalf("default limit: %d names, next %q, %v", len(regs), next, err)
	}
}
