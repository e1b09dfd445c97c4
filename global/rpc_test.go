package global

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vmihailenco/msgpack/v5"
)

func TestHandleRPCBadInput(t *testing.T) {
	c := newTestCluster(t, 1, hclog.Info)
	tb := c.tables[0]
	ctx := testCtx(t, 5*time.Second)
	if _, err := tb.HandleRPC(ctx, "x", "global.nope", nil); !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("unknown method: %v", err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 500 {
		body := make([]byte, rng.IntN(64))
		for j := range body {
			body[j] = byte(rng.IntN(256))
		}
		for _, m := range []string{MethodApply, MethodRead} {
			out, err := tb.HandleRPC(ctx, "x", m, body)
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("body %d %x: untyped error %v", i, body, err)
			}
			if err == nil && out == nil {
				t.Fatalf("body %d: no error and no response", i)
			}
		}
	}
	// A well-formed batch with invalid commands gets per-command errors.
	body, _ := msgpack.Marshal([]command{{Version: commandVersion, Op: opRegister, Name: ""}, {Op: 77}})
	out, err := tb.HandleRPC(ctx, "x", MethodApply, body)
	var res []result
	if err != nil || msgpack.Unmarshal(out, &res) != nil || len(res) != 2 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if !errors.Is(res[0].err(""), ErrNameEmpty) || !errors.Is(res[1].err(""), ErrUnsupportedVersion) {
		t.Fatalf("results: %+v", res)
	}
	// A header claiming a huge array is refused before anything is allocated.
	for _, m := range []string{MethodApply, MethodRead} {
		if _, err := tb.HandleRPC(ctx, "x", m, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("%s huge array: %v", m, err)
		}
	}
}

func TestBootstrapRefusedWithState(t *testing.T) {
	c := newTestCluster(t, 1, hclog.Info)
	err := c.tables[0].Bootstrap([]Server{{ID: "n1", Address: c.tables[0].RaftAddr()}})
	if !errors.Is(err, ErrHasState) {
		t.Fatalf("second bootstrap: %v", err)
	}
	if err := c.tables[0].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.tables[0].Shutdown(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := c.tables[0].Register(context.Background(), "x", pid("n1", 1, 1), nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("register after shutdown: %v", err)
	}
}

func TestFollowerWithoutForwarder(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	f := c.tables[c.follower()]
	f.cfg.Forwarder = nil
	_, err := f.Register(testCtx(t, 5*time.Second), "x", pid("n1", 1, 1), nil)
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower without forwarder: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.NodeID, good.InmemStore = "n1", true
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no node":    func(c *Config) { c.NodeID = "" },
		"no storage": func(c *Config) { c.InmemStore = false },
		"no bind":    func(c *Config) { c.RaftBind = "" },
		"hold":       func(c *Config) { c.HoldWindow = 0 },
		"batch":      func(c *Config) { c.MaxBatch = 0 },
		"timing":     func(c *Config) { c.Timing = 9 },
		"snapshot":   func(c *Config) { c.SnapshotThreshold = 0 },
		"stale":      func(c *Config) { c.StaleAfter = -1 },
		"cache":      func(c *Config) { c.LogCacheSize = 0 },
		"forwarding": func(c *Config) { c.MaxForwardInflight = 0 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New with %s: %v", name, err)
		}
	}
}

func TestBadNamesRejectedBeforeRaft(t *testing.T) {
	c := newTestCluster(t, 1, hclog.Info)
	tb := c.tables[0]
	ctx := testCtx(t, 5*time.Second)
	owner := pid("n1", 1, 1)
	for name, want := range map[string]error{"": ErrNameEmpty, "\xc3": ErrNameInvalid, string(make([]byte, 300)): ErrNameTooLong} {
		if _, err := tb.Register(ctx, name, owner, nil); !errors.Is(err, want) {
			t.Errorf("Register(%q): %v", name, err)
		}
		if _, _, err := tb.Lookup(ctx, name); !errors.Is(err, want) {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	if _, err := tb.Register(ctx, "ok", owner, make([]byte, MaxMetaLen+1)); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("big meta: %v", err)
	}
	if _, err := tb.Register(ctx, "ok", pid("n1", 0, 1), nil); !errors.Is(err, ErrInvalidOwner) {
		t.Errorf("zero incarnation: %v", err)
	}
	if _, err := tb.UnregisterPID(ctx, owner, ""); !errors.Is(err, ErrInvalidReason) {
		t.Errorf("empty reason: %v", err)
	}
}
