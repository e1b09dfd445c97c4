package api_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/roster-dev/roster/api"
)

// A service registers a cluster-wide name for a mailbox process, learns
// who holds it when it is taken, and serves the messages sent to it. (No
// output: it needs a running agent, `clusternode agent -dev`.)
func Example() {
	ctx := context.Background()
	c, err := api.NewClient(api.DefaultConfig()) // ROSTER_HTTP_ADDR, ROSTER_TOKEN
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.Processes().Spawn(ctx, 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Names().Register(ctx, "billing/leader", p.PID, map[string]string{"zone": "a"})
	var e *api.Error
	switch {
	case errors.Is(err, api.ErrNameTaken) && errors.As(err, &e):
		fmt.Println("follower; the leader is", e.Owner.PID)
	case err != nil:
		log.Fatal(err)
	}
	for {
		msgs, err := c.Processes().Receive(ctx, p.PID, api.ReceiveOptions{Wait: 10 * time.Second})
		if err != nil {
			log.Fatal(err) // ErrNoProc: the TTL ran out
		}
		for _, m := range msgs {
			fmt.Printf("from %s: %s\n", m.From, m.Body)
		}
	}
}

// Watching resumes where it left off after the stream ends.
func ExampleClient_Watch() {
	ctx := context.Background()
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	last := ""
	for {
		events, err := c.Watch(ctx, api.WatchOptions{Prefix: "billing/", Index: last})
		if errors.Is(err, api.ErrCompacted) {
			last = "" // too old: re-list with Names().ListAll, then watch from now
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		for ev := range events {
			if ev.Err != "" {
				break
			}
			fmt.Println(ev.Type, ev.Name, ev.PID, ev.Reason)
			last = ev.ID
		}
		time.Sleep(time.Second)
	}
}
