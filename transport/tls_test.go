package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority generated in-process.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a node certificate for 127.0.0.1 (server and client auth)
// and the CA to dir, returning the three file paths.
func (ca *testCA) issue(t *testing.T, dir, name string) (caFile, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file string, data []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write(name+"-ca.pem", ca.pem),
		write(name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		write(name+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func tlsNodeConfig(t *testing.T, ca *testCA, id NodeID, inc uint64) *Config {
	cfg := testConfig(t, id, inc)
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = ca.issue(t, t.TempDir(), string(id))
	return cfg
}

// TestTLSMutual: nodes with certificates from the cluster CA talk; a node
// with a certificate from another CA, or without TLS, is refused.
func TestTLSMutual(t *testing.T) {
	ca := newTestCA(t, "roster-test-ca")
	a, _ := startTCP(t, tlsNodeConfig(t, ca, "a", 1))
	b, _ := startTCP(t, tlsNodeConfig(t, ca, "b", 2))
	a.SetPeer("b", b.Addr(), 0)
	got, err := a.Call(context.Background(), "b", "whoami", nil)
	if err != nil || string(got) != "a" {
		t.Fatalf("call over TLS: %q %v", got, err)
	}

	rogue, _ := startTCP(t, tlsNodeConfig(t, newTestCA(t, "rogue-ca"), "rogue", 3))
	rogue.SetPeer("b", b.Addr(), 0)
	var pe *PeerError
	if _, err := rogue.Call(context.Background(), "b", "echo", nil); !errors.As(err, &pe) {
		t.Fatalf("rogue CA: want *PeerError, got %v", err)
	}
	plain, _ := startTCP(t, testConfig(t, "plain", 4))
	plain.SetPeer("b", b.Addr(), 0)
	if _, err := plain.Call(context.Background(), "b", "echo", nil); !errors.As(err, &pe) {
		t.Fatalf("plain TCP to a TLS node: want *PeerError, got %v", err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	cfg := testConfig(t, "a", 1)
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = "missing-ca.pem", "missing.pem", "missing-key.pem"
	if _, err := NewTCPTransport(*cfg); err == nil {
		t.Fatal("missing PEM files must fail NewTCPTransport")
	}
	cfg.CAFile = ""
	if _, err := NewTCPTransport(*cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("CertFile without CAFile: want ErrBadConfig, got %v", err)
	}
}
