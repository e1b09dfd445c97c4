package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// tlsFiles runs tls ca create and tls cert create -server and -client in a
// temporary directory and returns it.
func tlsFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var out strings.Builder
	for _, args := range [][]string{
		{"ca", "create", "-dir", dir},
		{"cert", "create", "-server", "-dir", dir, "-ca", filepath.Join(dir, tlsCAFile), "-key", filepath.Join(dir, tlsCAKeyFile),
			"-node", "n1", "-additional-dnsname", "api.example", "-additional-ipaddress", "10.0.0.5"},
		{"cert", "create", "-client", "-dir", dir, "-ca", filepath.Join(dir, tlsCAFile), "-key", filepath.Join(dir, tlsCAKeyFile)},
	} {
		if err := runTLS(args, &out); err != nil {
			t.Fatalf("tls %v: %v", args, err)
		}
	}
	return dir
}

func TestTLSCreate(t *testing.T) {
	dir := tlsFiles(t)
	ca := readCert(t, filepath.Join(dir, tlsCAFile))
	srv := readCert(t, filepath.Join(dir, "roster-server-roster-0.pem"))
	cli := readCert(t, filepath.Join(dir, "roster-client-roster-0.pem"))
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA || ca.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Fatalf("CA: IsCA %v, key %v", ca.IsCA, ca.PublicKeyAlgorithm)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"server.roster", "localhost", "n1.server.roster", "api.example", "127.0.0.1", "10.0.0.5"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("server cert for %s: %v", name, err)
		}
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, DNSName: "server.roster"}); err == nil {
		t.Error("a client certificate verifies as a server")
	}
	if d := time.Until(srv.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("server cert valid for %s, want a year", d)
	}
	fi, err := os.Stat(filepath.Join(dir, "roster-server-roster-0-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v %v, want 0600", fi.Mode(), err)
	}
	// A second run never overwrites: the next serial is used, the CA is kept.
	var out strings.Builder
	if err := runTLS([]string{"ca", "create", "-dir", dir}, &out); err == nil {
		t.Error("tls ca create overwrote an existing CA")
	}
	if err := runTLS([]string{"cert", "create", "-server", "-dir", dir, "-ca", filepath.Join(dir, tlsCAFile),
		"-key", filepath.Join(dir, tlsCAKeyFile)}, &out); err != nil || !strings.Contains(out.String(), "server-roster-1.pem") {
		t.Errorf("second server cert: %v %s", err, out.String())
	}
	if err := runTLS([]string{"cert", "create"}, &out); exitStatus(err) != 2 {
		t.Errorf("cert create without -server/-client: %v", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s: not PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentServesTLSWithClientCerts runs the agent with -http-tls-* and a
// client CA: a client with the CA and a client certificate is served, one
// without a certificate is refused in the handshake.
func TestAgentServesTLSWithClientCerts(t *testing.T) {
	dir := tlsFiles(t)
	fake := newFakeBackend()
	defer fake.close()
	open := func(ctx context.Context, cfg *agentConfig, log hclog.Logger) (backend, func(context.Context) error, error) {
		return fake, func(context.Context) error { return nil }, nil
	}
	cfg, err := parseAgentConfig([]string{"-dev", "-http", "127.0.0.1:0",
		"-http-tls-cert", filepath.Join(dir, "roster-server-roster-0.pem"),
		"-http-tls-key", filepath.Join(dir, "roster-server-roster-0-key.pem"),
		"-http-tls-client-ca", filepath.Join(dir, tlsCAFile)}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- agent(ctx, cfg, testLogger(t), nil, open, agentHooks{ready: func(a net.Addr) { addrCh <- a }})
	}()
	defer func() { cancel(); <-done }()
	addr := (<-addrCh).String()

	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, tlsCAFile)))
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "roster-client-roster-0.pem"), filepath.Join(dir, "roster-client-roster-0-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *tls.Config) (int, error) {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: c}, Timeout: 5 * time.Second}
		resp, err := cl.Get("https://" + addr + "/v1/health")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if st, err := get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}); err != nil || st != http.StatusOK {
		t.Fatalf("with a client certificate: %d %v", st, err)
	}
	if _, err := get(&tls.Config{RootCAs: roots}); err == nil {
		t.Fatal("served a client without a certificate")
	}
	// Plain HTTP to the TLS port gets net/http's 400, never the API.
	if resp, err := http.Get("http://" + addr + "/v1/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served")
		}
	}
}
