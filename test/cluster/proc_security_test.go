package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Secrets of the ACL file the security tests give the agents.
const (
	procOpsSecret     = "ops-secret-0123456789abcdef"
	procBillingSecret = "billing-secret-0123456789ab"
	procOtherSecret   = "other-secret-0123456789abcd"
)

// procACLFile writes an ACL file: an operator, a write token scoped to
// billing/, and an unscoped write token.
func procACLFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acl.json")
	body := `{"tokens": [
		{"id": "ops", "secret": "` + procOpsSecret + `", "policy": "operator"},
		{"id": "billing", "secret": "` + procBillingSecret + `", "policy": "write", "names": ["billing/"], "groups": ["billing/"]},
		{"id": "other", "secret": "` + procOtherSecret + `", "policy": "write", "names": [""], "groups": [""]}
	]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// as is a client of the same agent presenting another token ("" for none).
func (p *procAPI) as(secret string) *procAPI {
	q := &procAPI{base: p.base, client: p.client, hdr: http.Header{}}
	if secret != "" {
		q.hdr.Set("Authorization", "Bearer "+secret)
	}
	return q
}

// want checks an answer's status and error code.
func procWant(t *testing.T, what string, a procAnswer, err error, status int, code string) procAnswer {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if a.Status != status || (code != "" && a.str("code") != code) {
		t.Fatalf("%s: %d %v, want %d %s", what, a.Status, a.Body, status, code)
	}
	return a
}

// TestProcHTTPSecurity runs three real agents with the key in a file, ACLs
// and small bounds, and attacks their APIs as a local user would: without
// a token, with a token outside its scope, on another token's process,
// from a web page (foreign Origin, text/plain, a rebound Host), over the
// quotas, and with a body that never comes.
func TestProcHTTPSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{KeyFile: true, Token: procOpsSecret, ExtraArgs: []string{
		"-acl-file", procACLFile(t), "-max-processes-per-token", "3", "-http-mailbox-limit", "2",
		"-max-watches-per-token", "1", "-http-read-timeout", "500ms",
	}})
	ctx := context.Background()
	n0, n1 := c.API(0), c.API(1)
	anon, billing, other := n0.as(""), n0.as(procBillingSecret), n0.as(procOtherSecret)

	t.Run("no token", func(t *testing.T) {
		a, err := anon.do(ctx, "POST", "/v1/processes", "", 0)
		procWant(t, "spawn without a token", a, err, http.StatusUnauthorized, "token_required")
		a, err = anon.do(ctx, "GET", "/v1/names", "", 0)
		procWant(t, "list without a token", a, err, http.StatusUnauthorized, "token_required")
		a, err = n0.as("not-a-configured-token-xx").do(ctx, "GET", "/v1/status", "", 0)
		procWant(t, "unknown token", a, err, http.StatusUnauthorized, "invalid_token")
		a, err = anon.do(ctx, "GET", "/v1/health", "", 0)
		procWant(t, "health without a token", a, err, http.StatusOK, "")
	})

	pid, err := billing.spawn(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("scope", func(t *testing.T) {
		a, err := billing.register(ctx, "billing/invoices", pid)
		procWant(t, "register in scope", a, err, http.StatusCreated, "")
		a, err = billing.register(ctx, "payroll", pid)
		procWant(t, "register out of scope", a, err, http.StatusForbidden, "permission_denied")
		// Node 1's replica may not have the name yet: retry its 404.
		if err := WaitFor(10*time.Second, func() error {
			a, err := n1.as(procBillingSecret).do(ctx, "POST", "/v1/names/"+url.PathEscape("billing/invoices")+"/messages", `{"n":1}`, 0)
			if err == nil && a.Status != http.StatusAccepted {
				err = fmt.Errorf("%d %v", a.Status, a.Body)
			}
			return err
		}); err != nil {
			t.Fatalf("send in scope from another node: %v", err)
		}
		a, err = n1.as(procBillingSecret).do(ctx, "POST", "/v1/names/payroll/messages", `{"n":1}`, 0)
		procWant(t, "send out of scope", a, err, http.StatusForbidden, "permission_denied")
		a, err = billing.do(ctx, "GET", "/v1/names?prefix=", "", 0)
		procWant(t, "list everything with a scoped token", a, err, http.StatusForbidden, "permission_denied")
	})

	t.Run("another token's process", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/v1/processes/" + pid + "/messages"},
			{"PUT", "/v1/processes/" + pid + "/renew"},
			{"DELETE", "/v1/processes/" + pid},
			{"DELETE", "/v1/names/" + url.PathEscape("billing/invoices") + "?pid=" + pid},
		} {
			a, err := other.do(ctx, r.method, r.path, "", 0)
			procWant(t, r.method+" "+r.path+" as another token", a, err, http.StatusForbidden, "not_process_owner")
		}
		a, err := other.do(ctx, "PUT", "/v1/names/hijack", `{"pid":"`+pid+`"}`, 0)
		procWant(t, "name another token's process", a, err, http.StatusForbidden, "not_process_owner")
		msgs, err := billing.poll(ctx, pid, 5*time.Second)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("owner's poll: %v %v", msgs, err)
		}
		// The operator may.
		a, err = n0.do(ctx, "PUT", "/v1/processes/"+pid+"/renew", `{"ttl":"1m"}`, 0)
		procWant(t, "operator renews", a, err, http.StatusOK, "")
	})

	t.Run("browser", func(t *testing.T) {
		for _, h := range []http.Header{
			{"Origin": {"http://evil.example"}},
			{"Content-Type": {"text/plain"}},
		} {
			a, err := n0.raw(ctx, "POST", "/v1/processes", []byte(`{}`), h)
			if err != nil || (a.Status != http.StatusForbidden && a.Status != http.StatusUnsupportedMediaType) {
				t.Fatalf("POST with %v: %d %s %v", h, a.Status, a.Body, err)
			}
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", n0.base+"/v1/status", nil)
		req.Host = "rebound.evil.example"
		req.Header = n0.hdr.Clone()
		resp, err := n0.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("Host rebound.evil.example: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("quotas", func(t *testing.T) {
		// The mailbox bound is the real node's: 2 messages, then 429.
		fresh, err := billing.spawn(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			a, err := n1.as(procOtherSecret).do(ctx, "POST", "/v1/processes/"+fresh+"/messages", fmt.Sprint(i), 0)
			if err != nil {
				t.Fatal(err)
			}
			if i == 2 && a.Status != http.StatusAccepted {
				t.Fatalf("remote send to a full mailbox: %d (fire-and-forget: 202, dropped there)", a.Status)
			}
		}
		for i := range 3 {
			a, err := other.do(ctx, "POST", "/v1/processes/"+fresh+"/messages", fmt.Sprint(i), 0)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status == http.StatusTooManyRequests && a.str("code") == "mailbox_full" {
				break
			}
			if i == 2 {
				t.Fatalf("no 429 mailbox_full after 3 local sends to a bound of 2: %d %v", a.Status, a.Body)
			}
		}
		// Processes: billing has 2 of 3; the third is refused.
		if _, err := billing.spawn(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		a, err := billing.do(ctx, "POST", "/v1/processes", "", 0)
		procWant(t, "fourth process of a token", a, err, http.StatusTooManyRequests, "too_many_processes")
		// Watch streams: one per token.
		w, err := procStartWatch(ctx, billing, "prefix=billing/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.close(5 * time.Second)
		if _, err := procStartWatch(ctx, billing, "prefix=billing/", nil); err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("second watch of a token: %v, want 429", err)
		}
	})

	t.Run("slow body", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(n0.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /v1/processes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", procOpsSecret)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !bytes.Contains(body, []byte("body_timeout")) {
			t.Fatalf("stalled body: %d %s", resp.StatusCode, body)
		}
		t.Logf("stalled body cut off after %s (-http-read-timeout 500ms)", time.Since(start).Round(time.Millisecond))
	})
}

// TestProcInsecureRule: the real binary refuses a non-loopback bind
// without a key, and a non-loopback API without ACLs, with exit status 2
// and the reason; it never puts the key on its command line to learn that.
func TestProcInsecureRule(t *testing.T) {
	bin, err := procBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-bind", "0.0.0.0"}, "without a cluster key"},
		{[]string{"-bind", "127.0.0.1", "-http", "0.0.0.0:0"}, "without ACLs"},
	} {
		args := append([]string{"agent", "-node", "x", "-data-dir", t.TempDir(), "-http", "127.0.0.1:0"}, c.args...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "CLUSTERNODE_ENCRYPT=", "CLUSTERNODE_ENCRYPT_FILE=")
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "-insecure") {
			t.Fatalf("agent %v: %v\n%s", c.args, err, out)
		}
	}
}

// TestProcHTTPConnectionFlood: 300 connections that send half a request
// and stall cannot take an agent's descriptors: with -http-max-conns 20 it
// holds at most 20 of them (the rest wait in the kernel's queue), drops
// each after -http-read-header-timeout, and serves again once they go.
func TestProcHTTPConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an agent")
	}
	bin, err := procBinary()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := procFreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0].HTTP)
	cmd := exec.Command(bin, "agent", "-dev", "-node", "flood", "-http", addr,
		"-gossip-port", "0", "-port", "0", "-raft-port", "0",
		"-http-max-conns", "20", "-http-read-header-timeout", "2s")
	cmd.Stdout, cmd.Stderr = newProcLog(t).writer("flood"), newProcLog(t).writer("flood")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	api := newProcAPI(addr)
	ctx := context.Background()
	if err := WaitFor(30*time.Second, func() error { return api.healthy(ctx) }); err != nil {
		t.Fatal(err)
	}
	api.client.CloseIdleConnections()
	fds := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	base := fds()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		fmt.Fprint(c, "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n") // and never the end
		conns = append(conns, c)
	}
	peak := 0
	if err := procHoldFor(3*time.Second, func() error {
		n := fds()
		peak = max(peak, n)
		if n > base+20+5 {
			return fmt.Errorf("agent holds %d descriptors, %d before the flood: over -http-max-conns 20", n, base)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("300 stalled connections: agent descriptors %d before, peak %d (limit 20 connections)", base, peak)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if err := WaitFor(15*time.Second, func() error { return api.healthy(ctx) }); err != nil {
		t.Fatalf("agent does not serve after the flood: %v", err)
	}
}
