package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInsecureRule(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aclFile := filepath.Join(t.TempDir(), "acl.json")
	os.WriteFile(aclFile, []byte(`{"tokens":[{"id":"a","secret":"`+billingSecret+`","policy":"write"}]}`), 0o600)
	base := []string{"-node", "n1", "-data-dir", t.TempDir()}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string // "" accepted, else part of the refusal
	}{
		{"default bind, no key", nil, nil, "without a cluster key"},
		{"public bind, no key", []string{"-bind", "10.1.2.3"}, nil, "-bind 10.1.2.3 exposes"},
		{"insecure", []string{"-insecure"}, nil, ""},
		{"loopback, no key", []string{"-bind", "127.0.0.1"}, nil, ""},
		{"key file", []string{"-encrypt-file", keyFile}, nil, ""},
		{"key in env", nil, map[string]string{"CLUSTERNODE_ENCRYPT": key}, ""},
		{"key file in env", nil, map[string]string{"CLUSTERNODE_ENCRYPT_FILE": keyFile}, ""},
		{"public http, no acls", []string{"-encrypt-file", keyFile, "-http", "0.0.0.0:7480"}, nil, "without ACLs"},
		{"public http, acls", []string{"-encrypt-file", keyFile, "-http", "0.0.0.0:7480", "-acl-file", aclFile}, nil, ""},
		{"public http, env operator token", []string{"-encrypt-file", keyFile, "-http", "0.0.0.0:7480"},
			map[string]string{envACLOperatorToken: operatorSecret}, ""},
		{"public http, insecure", []string{"-encrypt-file", keyFile, "-http", "0.0.0.0:7480", "-insecure"}, nil, ""},
		{"dev", []string{"-dev"}, nil, ""},
		{"both keys", []string{"-encrypt-file", keyFile, "-encrypt", key}, nil, "not both"},
		{"missing key file", []string{"-encrypt-file", keyFile + ".nope"}, nil, "-encrypt-file"},
		{"bad limit", []string{"-insecure", "-max-processes", "0"}, nil, "-max-processes 0"},
		{"bad timeout", []string{"-insecure", "-http-read-timeout", "1ms"}, nil, "-http-read-timeout"},
		{"client ca without cert", []string{"-insecure", "-http-tls-client-ca", "x"}, nil, "needs -http-tls-cert"},
	} {
		cfg, err := parseAgentConfig(append(append([]string{}, base...), c.args...), envMap(c.env))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		case c.want != "" && exitStatus(err) != 2:
			t.Errorf("%s: exit status %d, want 2", c.name, exitStatus(err))
		case c.want == "" && strings.HasPrefix(c.name, "key") && len(cfg.Encrypt) != 32:
			t.Errorf("%s: key not loaded: %v", c.name, cfg.Encrypt)
		}
	}
}

func TestKeyOnArgvIsFlagged(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	cfg, err := parseAgentConfig([]string{"-dev", "-encrypt", key}, noEnv)
	if err != nil || !cfg.Security.KeyOnArgv {
		t.Fatalf("key on argv: %v %+v", err, cfg)
	}
	cfg, err = parseAgentConfig([]string{"-dev"}, envMap(map[string]string{"CLUSTERNODE_ENCRYPT": key}))
	if err != nil || cfg.Security.KeyOnArgv || len(cfg.Encrypt) != 32 {
		t.Fatalf("key from env: %v %+v", err, cfg)
	}
}
