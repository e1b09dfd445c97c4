package node

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/roster-dev/roster/transport"
)

// TestHandleEnvelopeGarbage feeds seeded random envelopes (unknown kinds,
// zero, dead, stale and foreign pids, junk bodies and reasons) straight to
// the handler: nothing panics, nothing garbage reaches a mailbox except
// messages, and the node still works afterwards.
func TestHandleEnvelopeGarbage(t *testing.T) {
	const seed = 7
	_, a, _ := pair(t)
	live := spawnProbe(t, a, WithTrapExit())
	dead := spawnWaiter(t, a)
	_ = a.Exit(dead, Killed)
	stale := live.pid
	stale.Incarnation++
	pids := []PID{{}, live.pid, dead, stale, {Node: "b", Incarnation: 22, Serial: 5}, {Node: "zz", Incarnation: 1, Serial: 1}}
	rng := rand.New(rand.NewPCG(seed, 0))
	codes := []string{"", "normal", "killed", "error", "noproc", "weird"}
	for i := 0; i < 2000; i++ {
		body := make([]byte, rng.IntN(8))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		env := &transport.Envelope{
			Kind:   transport.Kind(rng.IntN(10)),
			From:   pids[rng.IntN(len(pids))],
			To:     pids[rng.IntN(len(pids))],
			Ref:    rng.Uint64N(4),
			Reason: transport.Reason{Code: codes[rng.IntN(len(codes))], Message: "x"},
			Body:   body,
		}
		if rng.IntN(4) == 0 {
			env.ToName = "nobody"
		}
		a.HandleEnvelope("b", env)
	}
	// The node still works: the probe is alive or, if an exit killed it,
	// a fresh one works.
	p := live
	if !a.Alive(live.pid) {
		p = spawnProbe(t, a)
	}
	if err := a.Send(context.Background(), p.pid, "still here"); err != nil {
		t.Fatal(err)
	}
	for {
		m := p.next(t)
		if m.Body == "still here" {
			break
		}
		switch m.Body.(type) {
		case ExitSignal, Down:
		default:
			if !m.Remote() {
				t.Fatalf("unexpected local message %#v", m.Body)
			}
			var v any
			if err := m.Decode(&v); err != nil && !errors.Is(err, ErrDecode) {
				t.Fatalf("decode error not typed: %v", err)
			}
		}
	}
}
