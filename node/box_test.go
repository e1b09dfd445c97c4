package node

import (
	"reflect"
	"testing"
)

type boxPair struct {
	A int
	B string
}

type boxOnePtr struct{ P *int }

// checkBox boxes v with a boxer and compares with Go's own boxing.
func checkBox[T any](t *testing.T, v T) {
	t.Helper()
	p := new(T)
	*p = v
	got := boxer[T]()(p)
	var want any = v
	if reflect.TypeOf(got) != reflect.TypeOf(want) || !reflect.DeepEqual(got, want) {
		t.Fatalf("boxer(%#v) = %#v (%T), want %#v", v, got, got, want)
	}
	if _, ok := got.(T); !ok {
		t.Fatalf("boxer(%#v) does not assert to %T", v, v)
	}
}

// TestBoxer: a boxer gives the same interface value as Go's boxing for every
// shape of type, pointer-shaped ones included, and one allocation fewer
// for the others.
func TestBoxer(t *testing.T) {
	x := 7
	checkBox(t, boxPair{A: 1, B: "x"})
	checkBox(t, "a string")
	checkBox(t, []string{"a", "b"})
	checkBox(t, 42)
	checkBox(t, int8(-3))
	checkBox(t, 2.5)
	checkBox(t, [3]int{1, 2, 3})
	checkBox(t, struct{}{})
	checkBox(t, &x)
	checkBox(t, map[string]int{"a": 1})
	checkBox(t, boxOnePtr{P: &x})
	checkBox(t, [1]*int{&x})
	checkBox(t, (*int)(nil))
	checkBox(t, job{ID: 3, Tags: []string{"t"}})
	box := boxer[boxPair]()
	allocs := testing.AllocsPerRun(100, func() {
		p := new(boxPair)
		p.A = 5
		_ = box(p)
	})
	if allocs != 1 {
		t.Fatalf("new + box allocates %.1f times, want 1", allocs)
	}
}
