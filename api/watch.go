package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WatchOptions select a watch.
type WatchOptions struct {
	// Prefix keeps events of names that start with it.
	Prefix string
	// Index resumes after an event id ("42.1", an Event's ID) or after a
	// whole Raft index ("42"). Empty: from now. "0": everything the agent
	// still keeps. Older than the agent keeps: ErrCompacted.
	Index string
}

// watchBuffer is the channel's capacity: a slow reader holds up only its
// own stream (the agent ends a stream that falls too far behind).
const watchBuffer = 64

// Watch streams global name events (GET /v1/watch, Server-Sent Events)
// into the returned channel, in Raft log order. The channel is closed when
// ctx is done or the stream ends; a stream that ends for any other reason
// than ctx delivers a last Event with Err set first. To resume, watch again
// with Index set to the last event's ID.
func (c *Client) Watch(ctx context.Context, o WatchOptions) (<-chan Event, error) {
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	if o.Index != "" {
		q.Set("index", o.Index)
	}
	req, err := c.newRequest(ctx, request{method: "GET", path: "/v1/watch", query: q})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: GET /v1/watch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	out := make(chan Event, watchBuffer)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		err := readEvents(ctx, bufio.NewScanner(resp.Body), out)
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case out <- Event{Err: err.Error()}:
		case <-ctx.Done():
		}
	}()
	return out, nil
}

// errStreamEnded: the agent closed the stream without an error event (it
// is shutting down).
var errStreamEnded = fmt.Errorf("%w: watch stream closed by the agent", ErrUnavailable)

// readEvents parses SSE frames (id:, event:, data: lines, a blank line
// ends one) and sends each event. It returns nil once it delivered an
// event with Err (the agent's last word), or the read error.
func readEvents(ctx context.Context, sc *bufio.Scanner, out chan<- Event) error {
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue
			}
			var ev Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				return fmt.Errorf("api: bad watch event %q: %w", data, err)
			}
			ev.ID = id
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
			if ev.Err != "" {
				return nil
			}
			id, data = "", ""
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if data != "" {
				data += "\n"
			}
			data += d
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("api: watch stream: %w", err)
	}
	return errStreamEnded
}
