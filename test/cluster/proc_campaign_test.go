package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// procContractBlockingRegister: PUT /v1/names/{name}?wait= on real agents.
// While another process holds the name, a blocking register from another
// node waits; when the holder goes, it registers with a larger fence. A
// wait that runs out answers 409 name_taken with the owner; a bad wait is
// 400 bad_duration.
func procContractBlockingRegister(t *testing.T, c *procCluster) {
	ctx := context.Background()
	holder, fence, err := procRegister(ctx, c.API(0), "campaign/lead")
	if err != nil {
		t.Fatal(err)
	}
	contender, err := c.API(1).spawn(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"pid":"` + contender + `"}`
	start := time.Now()
	a, err := c.API(1).do(ctx, "PUT", "/v1/names/campaign%2Flead?wait=300ms", body, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusConflict || a.str("code") != "name_taken" || a.Body["owner"] == nil {
		t.Fatalf("wait ran out: status %d %v, want 409 name_taken with the owner", a.Status, a.Body)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("a 300ms wait answered after %v", d)
	}
	if a, err := c.API(1).do(ctx, "PUT", "/v1/names/campaign%2Flead?wait=soon", body, 0); err != nil || a.Status != http.StatusBadRequest || a.str("code") != "bad_duration" {
		t.Fatalf("bad wait: %v %d %v", err, a.Status, a.Body)
	}
	done := make(chan procAnswer, 1)
	go func() {
		a, err := c.API(1).do(ctx, "PUT", "/v1/names/campaign%2Flead?wait=20s", body, 25*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- a
	}()
	select {
	case a := <-done:
		t.Fatalf("blocking register returned while the name was held: %d %v", a.Status, a.Body)
	case <-time.After(500 * time.Millisecond):
	}
	freed := time.Now()
	if _, err := c.API(0).expect(ctx, "DELETE", "/v1/processes/"+url.PathEscape(holder), "", http.StatusNoContent); err != nil {
		t.Fatal(err)
	}
	a = <-done
	if a.Status != http.StatusCreated || a.str("pid") != contender {
		t.Fatalf("blocking register after the holder went: %d %v", a.Status, a.Body)
	}
	if f, _ := a.Body["fence"].(float64); f <= fence {
		t.Fatalf("new fence %v not above the old %v", f, fence)
	}
	t.Logf("blocking register won %v after the holder's process was deleted", time.Since(freed).Round(time.Millisecond))
}

// procContractCLICampaign: `clusternode campaign NAME` waits while another
// process holds the name, wins once it is free (printing its pid and
// fence), holds it while it runs, and frees it on SIGINT.
func procContractCLICampaign(t *testing.T, c *procCluster) {
	ctx := context.Background()
	holder, fence, err := procRegister(ctx, c.API(0), "campaign/cli")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(c.API(1).base, "http://")
	cmd := exec.Command(c.bin, "campaign", "-http-addr", addr, "-json", "campaign/cli")
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	read := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	time.Sleep(300 * time.Millisecond) // deliberate: nothing may be printed while the name is held
	if s := read(); s != "" {
		t.Fatalf("campaign printed while the name was held: %q", s)
	}
	if _, err := c.API(0).expect(ctx, "DELETE", "/v1/processes/"+url.PathEscape(holder), "", http.StatusNoContent); err != nil {
		t.Fatal(err)
	}
	var won map[string]any
	if err := WaitFor(15*time.Second, func() error {
		s := read()
		if err := json.Unmarshal([]byte(s), &won); err != nil {
			return fmt.Errorf("campaign output %q: %v", s, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if f, _ := won["fence"].(float64); f <= fence {
		t.Fatalf("campaign won with fence %v, not above %v: %v", won["fence"], fence, won)
	}
	if a, err := c.API(2).lookup(ctx, "campaign/cli"); err != nil || a.str("pid") != won["pid"] {
		t.Fatalf("lookup after the campaign won: %v %v", a.Body, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("campaign after SIGINT: %v: %s", err, read())
	}
	if _, err := procWaitGone(ctx, c.apis([]int{0, 1, 2}), "campaign/cli", time.Now(), 10*time.Second); err != nil {
		t.Fatalf("name not freed after the campaign resigned: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
