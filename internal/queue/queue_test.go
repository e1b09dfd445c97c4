package queue

import (
	"sync"
	"testing"
	"time"
)

func TestOrderAndWake(t *testing.T) {
	q := New[int]()
	if got := q.Take(); got != nil {
		t.Fatalf("empty queue gave %v", got)
	}
	q.Push(1, 2)
	q.Push(3)
	select {
	case <-q.Wake():
	case <-time.After(time.Second):
		t.Fatal("no wake-up after Push")
	}
	if got := q.Take(); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("Take = %v, want [1 2 3]", got)
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after Take", q.Len())
	}
	q.Close()
	if q.Push(4) || q.Len() != 0 {
		t.Fatal("Push after Close queued its value")
	}
}

// Many producers, one consumer: every value arrives once, and each
// producer's values arrive in its order.
func TestConcurrentProducers(t *testing.T) {
	const producers, each = 8, 1000
	q := New[[2]int]()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q.Push([2]int{p, i})
			}
		}()
	}
	next := make([]int, producers)
	got := 0
	deadline := time.After(10 * time.Second)
	for got < producers*each {
		select {
		case <-q.Wake():
		case <-deadline:
			t.Fatalf("got %d of %d", got, producers*each)
		}
		for _, v := range q.Take() {
			if v[1] != next[v[0]] {
				t.Fatalf("producer %d: got %d, want %d", v[0], v[1], next[v[0]])
			}
			next[v[0]]++
			got++
		}
	}
	wg.Wait()
}
