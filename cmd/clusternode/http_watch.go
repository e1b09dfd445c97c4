package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// sseKeepAlive is how often an idle watch stream sends a comment line, so
// that proxies keep it open and a gone client is noticed.
const sseKeepAlive = 15 * time.Second

// watch streams global name events as Server-Sent Events:
//
//	id: <raft index>
//	event: registered | unregistered | error
//	data: {"type":..., "name":..., "pid":..., "index":..., "reason":...}
//
// ?index=I resumes after index I (a reconnecting EventSource sends
// Last-Event-ID, which is honoured the same way). An index older than the
// history the node keeps answers 410 compacted: re-list and watch from the
// list's index. The stream ends when the client goes, the node shuts down,
// or the watcher falls behind (a final "error" event says so).
func (s *apiServer) watch(w http.ResponseWriter, r *http.Request) {
	from, err := watchIndex(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	events, err := s.be.WatchGlobal(ctx, r.URL.Query().Get("prefix"), from)
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
	s.streamEvents(ctx, w, flusher, events)
}

func (s *apiServer) streamEvents(ctx context.Context, w http.ResponseWriter, f http.Flusher, events <-chan nameEvent) {
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
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
			if err := writeEvent(w, ev); err != nil {
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

func writeEvent(w http.ResponseWriter, ev nameEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	typ := ev.Type
	if ev.Err != "" {
		typ = "error"
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Index, typ, data)
	return err
}

// watchIndex reads ?index= or, failing that, the Last-Event-ID header.
func watchIndex(r *http.Request) (uint64, error) {
	v := r.URL.Query().Get("index")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badReq("bad_param", "index=%q: want a non-negative integer", v)
	}
	return n, nil
}
