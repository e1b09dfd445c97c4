package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

func TestReasonWireRoundTrip(t *testing.T) {
	custom := errors.New("disk full")
	wrapped := fmt.Errorf("while stopping: %w", Killed)
	cases := []struct {
		name     string
		in       error
		wire     transport.Reason
		is       error  // the sentinel the decoded reason must match, if any
		text     string // the decoded reason's text
		sentinel bool   // decoded reason is the sentinel itself
	}{
		{"nil", nil, transport.Reason{Code: "normal"}, Normal, "normal", true},
		{"normal", Normal, transport.Reason{Code: "normal"}, Normal, "normal", true},
		{"killed", Killed, transport.Reason{Code: "killed"}, Killed, "killed", true},
		{"shutdown", Shutdown, transport.Reason{Code: "shutdown"}, Shutdown, "shutdown", true},
		{"noproc", NoProc, transport.Reason{Code: "noproc"}, NoProc, "noproc", true},
		{"noconnection", NoConnection, transport.Reason{Code: "noconnection"}, NoConnection, "noconnection", true},
		{"nodedown", NodeDown, transport.Reason{Code: "nodedown"}, NodeDown, "nodedown", true},
		{"name_lost", NameLost, transport.Reason{Code: "name_lost"}, NameLost, "name_lost", true},
		{"custom", custom, transport.Reason{Code: "error", Message: "disk full"}, nil, "disk full", false},
		{"wrapped sentinel", wrapped, transport.Reason{Code: "killed", Message: wrapped.Error()}, Killed, "killed: while stopping: killed", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := ReasonToWire(tc.in)
			if w != tc.wire {
				t.Fatalf("wire %+v, want %+v", w, tc.wire)
			}
			b, err := msgpack.Marshal(w)
			if err != nil {
				t.Fatal(err)
			}
			var back transport.Reason
			if err := msgpack.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got := ReasonFromWire(back)
			if tc.is != nil && !errors.Is(got, tc.is) {
				t.Fatalf("%v does not match %v", got, tc.is)
			}
			if got.Error() != tc.text {
				t.Fatalf("text %q, want %q", got.Error(), tc.text)
			}
			if tc.sentinel != (got == tc.is) {
				t.Fatalf("got %#v, sentinel identity want %v", got, tc.sentinel)
			}
			for _, s := range sentinels {
				if s != tc.is && errors.Is(got, s) {
					t.Fatalf("%v also matches %v", got, s)
				}
			}
			if again := ReasonToWire(got); again != w {
				t.Fatalf("second trip %+v, want %+v", again, w)
			}
		})
	}
	if got := ReasonFromWire(transport.Reason{}); got != Normal {
		t.Fatalf("empty code: %v", got)
	}
	var re *RemoteError
	if got := ReasonFromWire(transport.Reason{Code: "future_code"}); !errors.As(got, &re) || got.Error() != "future_code" {
		t.Fatalf("unknown code: %#v", got)
	}
}

func TestMessageDecode(t *testing.T) {
	type point struct {
		X int `msgpack:"x"`
		Y int `msgpack:"y"`
	}
	t.Run("local same type", func(t *testing.T) {
		var p point
		if err := (Message{Body: point{1, 2}}).Decode(&p); err != nil || p != (point{1, 2}) {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("local converted", func(t *testing.T) {
		var m map[string]int
		if err := (Message{Body: point{3, 4}}).Decode(&m); err != nil || m["x"] != 3 || m["y"] != 4 {
			t.Fatalf("%v %v", m, err)
		}
		var i64 int64
		if err := (Message{Body: 7}).Decode(&i64); err != nil || i64 != 7 {
			t.Fatalf("%v %v", i64, err)
		}
	})
	t.Run("local nil body", func(t *testing.T) {
		p := &point{1, 1}
		if err := (Message{}).Decode(p); err != nil || *p != (point{}) {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("remote", func(t *testing.T) {
		raw, _ := msgpack.Marshal(point{5, 6})
		var tt typeTable
		m, err := tt.decode(PID{}, "", raw)
		if err != nil {
			t.Fatal(err)
		}
		var p point
		if err := m.Decode(&p); err != nil || p != (point{5, 6}) || !m.Remote() {
			t.Fatalf("%+v %v", p, err)
		}
		var s string
		if err := m.Decode(&s); !errors.Is(err, ErrDecode) {
			t.Fatalf("decode map into string: %v", err)
		}
		if nilMsg, err := tt.decode(PID{}, "", nil); err != nil || nilMsg.Body != nil || !nilMsg.Remote() {
			t.Fatalf("nil body: %#v", nilMsg)
		}
	})
	t.Run("bad targets", func(t *testing.T) {
		var p point
		for _, v := range []any{nil, p, (*point)(nil)} {
			if err := (Message{Body: 1}).Decode(v); !errors.Is(err, ErrDecode) {
				t.Fatalf("Decode(%T): %v", v, err)
			}
		}
		if err := (Message{Body: make(chan int)}).Decode(&p); !errors.Is(err, ErrDecode) {
			t.Fatalf("unencodable: %v", err)
		}
	})
}
