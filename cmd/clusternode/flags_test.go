package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestAgentFlagsAndEnv(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env := envMap(map[string]string{
		"CLUSTERNODE_RAFT_PORT":        "9100",
		"CLUSTERNODE_JOIN":             "a:1,b",
		"CLUSTERNODE_ENCRYPT":          key,
		"CLUSTERNODE_BOOTSTRAP_EXPECT": "3",
		"CLUSTERNODE_NODE":             "from-env",
		"CLUSTERNODE_LOG_JSON":         "true",
	})
	cfg, err := parseAgentConfig([]string{"-node", "n1", "-data-dir", "/tmp/x", "-profile", "fast"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node != "n1" {
		t.Errorf("node %q: the flag must win over CLUSTERNODE_NODE", cfg.Node)
	}
	if cfg.RaftPort != 9100 || cfg.BootstrapExpect != 3 || !cfg.LogJSON || cfg.Profile != "fast" {
		t.Errorf("env not applied: %+v", cfg)
	}
	if len(cfg.Join) != 2 || cfg.Join[0] != "a:1" || cfg.Join[1] != "b:7946" {
		t.Errorf("join %v, want [a:1 b:7946]", cfg.Join)
	}
	if ip := net.ParseIP(cfg.Advertise); ip == nil || ip.IsUnspecified() {
		t.Errorf("advertise %q for bind 0.0.0.0: want a concrete IP", cfg.Advertise)
	}
	if len(cfg.Encrypt) != 32 || cfg.HTTPAddr != defaultHTTPAddr || cfg.LogLevel != hclog.Info {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestDevDefaults(t *testing.T) {
	cfg, err := parseAgentConfig([]string{"-dev"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BootstrapExpect != 1 || cfg.Bind != "127.0.0.1" || cfg.Advertise != "127.0.0.1" || cfg.Profile != "fast" || cfg.Node == "" {
		t.Fatalf("dev config %+v", cfg)
	}
}

func TestAgentFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-data-dir", "d", "-bogus"}, nil, "-bogus"},
		{[]string{"-node", "n"}, nil, "-data-dir is required"},
		{[]string{"-dev", "-node", "bad name"}, nil, "-node"},
		{[]string{"-dev", "-bind", "nowhere"}, nil, "-bind"},
		{[]string{"-dev", "-advertise", "1.2.3"}, nil, "-advertise"},
		{[]string{"-dev", "-port", "70000"}, nil, "-port 70000"},
		{[]string{"-dev", "-port", "7946"}, nil, "both 7946"},
		{[]string{"-dev", "-http", "localhost"}, nil, "-http"},
		{[]string{"-dev", "-join", "a:b"}, nil, "-join"},
		{[]string{"-dev", "-join-srv", "peers:7946"}, nil, "-join-srv"},
		{[]string{"-dev", "-join-resolver", "dns.example"}, nil, "-join-resolver"},
		{[]string{"-dev", "-bootstrap-expect", "3"}, nil, "-dev runs one node"},
		{[]string{"-data-dir", "d", "-bootstrap-expect", "-1"}, nil, "-bootstrap-expect"},
		{[]string{"-dev", "-encrypt", "short"}, nil, "-encrypt"},
		{[]string{"-dev", "-encrypt", base64.StdEncoding.EncodeToString([]byte("12345"))}, nil, "5 bytes"},
		{[]string{"-dev", "-profile", "wan"}, nil, "-profile"},
		{[]string{"-dev", "-log-level", "loud"}, nil, "-log-level"},
		{[]string{"-dev", "extra"}, nil, "unexpected argument"},
		{[]string{"-dev"}, map[string]string{"CLUSTERNODE_RAFT_PORT": "x"}, "CLUSTERNODE_RAFT_PORT"},
		{[]string{"-dev", "-tls-cert-file", "c.pem"}, nil, "go together"},
		{[]string{"-dev", "-tls-ca-file", "no-ca.pem", "-tls-cert-file", "no.pem", "-tls-key-file", "no.key"}, nil, "-tls-*-file"},
	}
	for _, c := range cases {
		_, err := parseAgentConfig(c.args, envMap(c.env))
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v %v: error %v, want one usage line mentioning %q", c.args, c.env, err, c.want)
		}
	}
}

func TestRunBadFlagExitsWithOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"agent", "-raft-port", "x"}, &stdout, &stderr)
	if exitStatus(err) != 2 || !strings.Contains(err.Error(), "raft-port") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v (status %d)", err, exitStatus(err))
	}
	if stderr.Len() != 0 {
		t.Fatalf("agent printed usage noise: %q", stderr.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); exitStatus(err) != 2 {
		t.Fatalf("unknown command: %v", err)
	}
	if err := run(context.Background(), []string{"agent", "-h"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "-bootstrap-expect") {
		t.Fatalf("agent -h: %v %q", err, stdout.String())
	}
}

func TestKeygenAndVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keygen"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	key, err := decodeKey(strings.TrimSpace(out.String()))
	if err != nil || len(key) != 32 {
		t.Fatalf("keygen printed %q: %v", out.String(), err)
	}
	var out2 bytes.Buffer
	_ = run(context.Background(), []string{"keygen"}, &out2, &out2)
	if out2.String() == out.String() {
		t.Fatal("two keygen runs printed the same key")
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil || out.String() != "clusternode "+version+"\n" {
		t.Fatalf("version: %v %q", err, out.String())
	}
}

func TestAgentJoinDNSFlags(t *testing.T) {
	cfg, err := parseAgentConfig([]string{"-dev", "-join", "roster-peers.default.svc.cluster.local,10.0.0.1:9",
		"-join-srv", "_gossip._tcp.roster-peers.default.svc.cluster.local", "-join-resolver", "127.0.0.1:5353"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"roster-peers.default.svc.cluster.local:7946", "10.0.0.1:9", "srv:_gossip._tcp.roster-peers.default.svc.cluster.local"}
	if strings.Join(cfg.Join, " ") != strings.Join(want, " ") || cfg.JoinResolver != "127.0.0.1:5353" {
		t.Errorf("join %q resolver %q, want %q", cfg.Join, cfg.JoinResolver, want)
	}
}
