package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// procHoldFor checks cond every 100 ms for d and returns its first error:
// for properties that must hold over a window (nothing joins), which no
// single poll can show.
func procHoldFor(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// TestProcWrongKeyCannotJoin: an agent with another -encrypt key that
// -joins the cluster never becomes a member on either side, never gets a
// leader (health 503, global writes refused), and what it sends to a
// cluster process never arrives; the cluster stays healthy.
func TestProcWrongKeyCannotJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	other, err := exec.Command(c.bin, "keygen").Output()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.startStranger("intruder", strings.TrimSpace(string(other)))
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(30*time.Second, func() error { _, err := s.api.status(ctx); return err }); err != nil {
		t.Fatalf("intruder's API: %v", err)
	}
	target, err := c.API(0).spawn(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The intruder retries its -join the whole window (fast profile).
	err = procHoldFor(3*time.Second, func() error {
		for i := range c.Size() {
			if err := procNotMember(ctx, c.API(i), "intruder"); err != nil {
				return err
			}
		}
		if err := procNotMember(ctx, s.api, c.Name(0)); err != nil {
			return err
		}
		if err := s.api.healthy(ctx); err == nil {
			return fmt.Errorf("intruder reports healthy")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.api.do(ctx, "POST", "/v1/processes/"+url.PathEscape(target)+"/messages", `"intrusion"`, 0)
	t.Logf("intruder's send to %s: %v %d %v", target, err, a.Status, a.Body)
	if bodies, err := c.API(0).poll(ctx, target, time.Second); err != nil || len(bodies) != 0 {
		t.Errorf("cluster process's mailbox after the intruder's send: %v %v", bodies, err)
	}
	if pid, err := s.api.spawn(ctx, time.Minute); err == nil {
		// Without a leader the write waits out its hold window; 2 s is plenty
		// to see it is not acknowledged.
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if a, err := s.api.register(short, "intruder-name", pid); err == nil && a.Status == http.StatusCreated {
			t.Errorf("intruder registered a global name: %v", a.Body)
		}
	}
	if err := c.WaitHealthy(10 * time.Second); err != nil {
		t.Error(err)
	}
}

// procNotMember returns an error if api's node lists node as a member.
func procNotMember(ctx context.Context, api *procAPI, node string) error {
	st, err := api.status(ctx)
	if err != nil {
		return err
	}
	members, _ := st["members"].([]any)
	for _, m := range members {
		if mm, _ := m.(map[string]any); mm["node"] == node {
			return fmt.Errorf("%s lists %s as a member: %v", api.base, node, mm)
		}
	}
	return nil
}
