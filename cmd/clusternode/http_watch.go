package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sseKeepAlive is how often an idle watch stream sends a comment line, so
// that proxies keep it open and a gone client is noticed.
const sseKeepAlive = 15 * time.Second

// watch streams global name events as Server-Sent Events:
//
//	id: <raft index>.<n>
//	event: registered | unregistered | error
//	data: {"type":..., "name":..., "pid":..., "index":..., "reason":...}
//
// One Raft log entry can carry several changes, so an event's id is its
// index and its position n (from 0) among the stream's events of that
// index. ?index= resumes after an id ("42.1": after the second event of
// index 42) or after a whole index ("42"); a reconnecting EventSource
// sends Last-Event-ID, which is honoured the same way. An index older than
// the history the node keeps answers 410 compacted: re-list and watch from
// the list's index. The stream ends when the client goes, the node shuts
// down, or the watcher falls behind (a final "error" event says so).
func (s *apiServer) watch(w http.ResponseWriter, r *http.Request) {
	cur, err := watchCursorOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	release, err := s.limits.acquireWatch(identityOf(r).ID, s.acl != nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer release()
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	events, err := s.be.WatchGlobal(ctx, r.URL.Query().Get("prefix"), cur.from())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": watching\n\n")
	flusher.Flush()
	s.streamEvents(ctx, w, flusher, events, cur)
}

func (s *apiServer) streamEvents(ctx context.Context, w http.ResponseWriter, f http.Flusher, events <-chan nameEvent, cur watchCursor) {
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	var index uint64
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Index == index {
				n++
			} else {
				index, n = ev.Index, 0
			}
			if ev.Err == "" && cur.seen(ev.Index, n) {
				continue
			}
			if err := writeEvent(w, ev, n); err != nil {
				return
			}
			if ev.Err != "" {
				f.Flush()
				return
			}
		}
		f.Flush()
	}
}

func writeEvent(w http.ResponseWriter, ev nameEvent, n int) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	typ := ev.Type
	if ev.Err != "" {
		typ = "error"
	}
	_, err = fmt.Fprintf(w, "id: %d.%d\nevent: %s\ndata: %s\n\n", ev.Index, n, typ, data)
	return err
}

// watchCursor is where a watch resumes: after every event of index (n <
// 0), or after the n-th event of index. The zero cursor (no ?index=) means
// "from now"; index=0 means everything the node still keeps.
type watchCursor struct {
	set   bool
	index uint64
	n     int
}

// from is the first index the backend must replay.
func (c watchCursor) from() uint64 {
	switch {
	case !c.set:
		return 0
	case c.n < 0:
		return c.index + 1
	default:
		return c.index
	}
}

// seen reports whether the n-th event of index was already delivered.
func (c watchCursor) seen(index uint64, n int) bool {
	return c.set && (index < c.index || index == c.index && (c.n < 0 || n <= c.n))
}

// watchCursorOf reads ?index= or, failing that, the Last-Event-ID header:
// "I" or "I.n".
func watchCursorOf(r *http.Request) (watchCursor, error) {
	v := r.URL.Query().Get("index")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return watchCursor{}, nil
	}
	idx, pos, dotted := strings.Cut(v, ".")
	i, err := strconv.ParseUint(idx, 10, 64)
	n, nerr := -1, error(nil)
	if dotted {
		n, nerr = strconv.Atoi(pos)
	}
	if err != nil || nerr != nil || n < -1 || (dotted && n < 0) {
		return watchCursor{}, badReq("bad_param", "index=%q: want a raft index I or an event id I.n", v)
	}
	return watchCursor{set: true, index: i, n: n}, nil
}
