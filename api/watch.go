package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// watchBuffer is a watch channel's capacity: a slow reader holds up only
// its own stream (the agent ends a stream that falls too far behind).
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
	body, err := c.openStream(ctx, "/v1/watch", q)
	if err != nil {
		return nil, err
	}
	out := make(chan Event, watchBuffer)
	go func() {
		defer close(out)
		defer body.Close()
		err := readSSE(ctx, body, func(id string, data []byte) (bool, error) {
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return false, fmt.Errorf("api: bad watch event %q: %w", data, err)
			}
			ev.ID = id
			select {
			case out <- ev:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			return ev.Err != "", nil
		})
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

// openStream opens an SSE endpoint; an answer other than 200 is its
// *Error.
func (c *Client) openStream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, request{method: "GET", path: path, query: q})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp.Body, nil
}

// errStreamEnded: the agent closed the stream without an error event (it
// is shutting down).
var errStreamEnded = fmt.Errorf("%w: watch stream closed by the agent", ErrUnavailable)

// readSSE parses Server-Sent Events (id:, data: lines; a blank line ends
// one; comments and event: lines are skipped) and hands each event's id
// and data to deliver. It returns nil once deliver says the event was the
// stream's last word, deliver's error, or why the stream ended.
func readSSE(ctx context.Context, r io.Reader, deliver func(id string, data []byte) (last bool, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue
			}
			last, err := deliver(id, []byte(data))
			if err != nil || last {
				return err
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
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("api: watch stream: %w", err)
	}
	return errStreamEnded
}
