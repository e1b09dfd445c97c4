package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rosterSys is three clusternode agents on loopback (fast profile, the
// default log store).
type rosterSys struct {
	procs []*proc
	names []string
	http  []string // base URLs
	hc    *http.Client
}

func startRoster(ctx context.Context, bin, dir string) (*rosterSys, error) {
	key, err := exec.Command(bin, "keygen").Output()
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	ports, err := freePorts(12)
	if err != nil {
		return nil, err
	}
	r := &rosterSys{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}}
	for i := range 3 {
		p := ports[i*4:]
		var joins []string
		for j := range 3 {
			if j != i {
				joins = append(joins, "127.0.0.1:"+strconv.Itoa(ports[j*4]))
			}
		}
		name := fmt.Sprintf("r%d", i+1)
		args := []string{"agent", "-node", name, "-data-dir", filepath.Join(dir, name), "-bind", "127.0.0.1",
			"-gossip-port", strconv.Itoa(p[0]), "-port", strconv.Itoa(p[1]), "-raft-port", strconv.Itoa(p[2]),
			"-http", "127.0.0.1:" + strconv.Itoa(p[3]), "-bootstrap-expect", "3", "-join", join(joins),
			"-encrypt", strings.TrimSpace(string(key)), "-profile", "fast", "-log-level", "warn"}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		pr, err := startProc(bin, args, filepath.Join(dir, name+".log"))
		if err != nil {
			r.stop()
			return nil, err
		}
		r.procs, r.names = append(r.procs, pr), append(r.names, name)
		r.http = append(r.http, "http://127.0.0.1:"+strconv.Itoa(p[3]))
	}
	err = waitFor(60*time.Second, func() error {
		for _, u := range r.http {
			if err := r.get(ctx, u+"/v1/health", nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *rosterSys) name() string { return "Roster" }

func (r *rosterSys) stop() {
	for _, p := range r.procs {
		p.term()
	}
}

func (r *rosterSys) kill9(i int) error { return r.procs[i].kill() }

func (r *rosterSys) leader(ctx context.Context) (int, error) {
	var st struct {
		Leader string `json:"leader"`
	}
	if err := r.get(ctx, r.http[0]+"/v1/status", &st); err != nil {
		return -1, err
	}
	for i, n := range r.names {
		if n == st.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("leader %q unknown", st.Leader)
}

func (r *rosterSys) get(ctx context.Context, url string, out any) error {
	st, body, err := r.do(ctx, "GET", url, "")
	if err != nil {
		return err
	}
	if st != 200 {
		return fmt.Errorf("GET %s: %d %s", url, st, body)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

func (r *rosterSys) do(ctx context.Context, method, url, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// rosterClient is one caller: a process spawned on member i that owns the
// names it registers.
type rosterClient struct {
	r   *rosterSys
	url string
	pid string
}

func (r *rosterSys) newClient(ctx context.Context, i int) (client, error) {
	st, body, err := r.do(ctx, "POST", r.http[i]+"/v1/processes", `{"ttl":"1h"}`)
	if err != nil || st != 201 {
		return nil, fmt.Errorf("spawn: %d %s %v", st, body, err)
	}
	var p struct {
		PID string `json:"pid"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	return &rosterClient{r: r, url: r.http[i], pid: p.PID}, nil
}

func (c *rosterClient) register(ctx context.Context, key string, _ bool) error {
	st, body, err := c.r.do(ctx, "PUT", c.url+"/v1/names/"+key, `{"pid":"`+c.pid+`"}`)
	if err != nil {
		return err
	}
	if st != 201 {
		return fmt.Errorf("register %s: %d %s", key, st, body)
	}
	return nil
}

func (c *rosterClient) lookup(ctx context.Context, key string, consistent bool) (bool, error) {
	u := c.url + "/v1/names/" + key
	if consistent {
		u += "?consistent=1"
	}
	st, body, err := c.r.do(ctx, "GET", u, "")
	switch {
	case err != nil:
		return false, err
	case st == 200:
		return true, nil
	case st == 404:
		return false, nil
	}
	return false, fmt.Errorf("lookup %s: %d %s", key, st, body)
}

func (c *rosterClient) watch(ctx context.Context, prefix string) (<-chan string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url+"/v1/watch?prefix="+prefix, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, fmt.Errorf("watch: %d", resp.StatusCode)
	}
	ch := make(chan string, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		ev := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && ev == "registered":
				var d struct {
					Name string `json:"name"`
				}
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d) == nil {
					ch <- d.Name
				}
			}
		}
	}()
	return ch, nil
}

func (c *rosterClient) close() {}
