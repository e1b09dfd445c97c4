package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// `clusternode tls ca create` and `clusternode tls cert create`, after
// `consul tls`: a CA, then server and client certificates it signs, all
// ECDSA P-256. Files land in the current directory (or -dir):
//
//	roster-agent-ca.pem, roster-agent-ca-key.pem
//	<domain>-server-roster-<n>.pem, ...-key.pem   (SANs: server.<domain>, localhost, 127.0.0.1, ::1, extras)
//	<domain>-client-roster-<n>.pem, ...-key.pem
//
// Keys are written 0600 and never overwritten.

const (
	tlsCAFile    = "roster-agent-ca.pem"
	tlsCAKeyFile = "roster-agent-ca-key.pem"
)

// runTLS dispatches `clusternode tls ...`.
func runTLS(args []string, stdout io.Writer) error {
	const usageTLS = "usage: clusternode tls ca create [flags] | clusternode tls cert create -server|-client [flags]"
	if len(args) < 2 || args[1] != "create" || (args[0] != "ca" && args[0] != "cert") {
		return usagef(usageTLS)
	}
	if args[0] == "ca" {
		return runTLSCACreate(args[2:], stdout, time.Now())
	}
	return runTLSCertCreate(args[2:], stdout, time.Now())
}

func runTLSCACreate(args []string, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("clusternode tls ca create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	days := fs.Int("days", 1825, "validity in days")
	domain := fs.String("domain", "roster", "domain of the cluster (certificates name server.<domain>)")
	dir := fs.String("dir", ".", "directory to write the files to")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if *days < 1 || fs.NArg() > 0 {
		return usagef("tls ca create: -days must be positive, no arguments")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Roster Agent CA " + *domain + " " + serial.Text(16)[:8], Organization: []string{"Roster"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, *days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls ca create: %w", err)
	}
	return writePair(stdout, filepath.Join(*dir, tlsCAFile), filepath.Join(*dir, tlsCAKeyFile), der, key)
}

// certFlags are the flags of `tls cert create`.
type certFlags struct {
	server, client bool
	ca, caKey      string
	days           int
	domain, dir    string
	dnsNames, ips  string
	node           string
}

func runTLSCertCreate(args []string, stdout io.Writer, now time.Time) error {
	var f certFlags
	fs := flag.NewFlagSet("clusternode tls cert create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&f.server, "server", false, "a server certificate (agent HTTP API, node ports)")
	fs.BoolVar(&f.client, "client", false, "a client certificate (CLI, services calling the API)")
	fs.StringVar(&f.ca, "ca", tlsCAFile, "CA certificate")
	fs.StringVar(&f.caKey, "key", tlsCAKeyFile, "CA private key")
	fs.IntVar(&f.days, "days", 365, "validity in days")
	fs.StringVar(&f.domain, "domain", "roster", "domain of the cluster (as given to tls ca create)")
	fs.StringVar(&f.dir, "dir", ".", "directory to write the files to")
	fs.StringVar(&f.dnsNames, "additional-dnsname", "", "comma-separated extra DNS SANs (server)")
	fs.StringVar(&f.ips, "additional-ipaddress", "", "comma-separated extra IP SANs (server)")
	fs.StringVar(&f.node, "node", "", "node name: adds the SAN <node>.server.<domain> (server)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if f.server == f.client || fs.NArg() > 0 {
		return usagef("tls cert create: give exactly one of -server and -client")
	}
	if f.days < 1 {
		return usagef("tls cert create: -days must be positive")
	}
	tmpl, err := f.template(now)
	if err != nil {
		return err
	}
	caCert, caKey, err := loadCA(f.ca, f.caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SubjectKeyId = keyID(&key.PublicKey)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("tls cert create: %w", err)
	}
	kind := "server"
	if f.client {
		kind = "client"
	}
	base, err := freeBase(f.dir, fmt.Sprintf("%s-%s-roster", f.domain, kind))
	if err != nil {
		return err
	}
	return writePair(stdout, base+".pem", base+"-key.pem", der, key)
}

// template is the certificate to sign: SANs and extended key usages.
func (f *certFlags) template(now time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.AddDate(0, 0, f.days),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if f.client {
		t.Subject.CommonName = "client." + f.domain
		t.DNSNames = []string{"client." + f.domain}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return t, nil
	}
	t.Subject.CommonName = "server." + f.domain
	t.DNSNames = []string{"server." + f.domain, "localhost"}
	if f.node != "" {
		t.DNSNames = append(t.DNSNames, f.node+".server."+f.domain)
	}
	t.DNSNames = append(t.DNSNames, splitList(f.dnsNames)...)
	t.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	for _, s := range splitList(f.ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, usagef("-additional-ipaddress %q is not an IP", s)
		}
		t.IPAddresses = append(t.IPAddresses, ip)
	}
	// Servers also dial each other (transport, raft): both usages.
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	return t, nil
}

func loadCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls cert create: CA (create one with clusternode tls ca create): %w", err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls cert create: CA key: %w", err)
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, errors.New("tls cert create: the CA or its key is not PEM")
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tls cert create: CA: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tls cert create: CA key: %w", err)
	}
	return cert, key, nil
}

// freeBase is dir/prefix-<n> for the first n with no certificate yet.
func freeBase(dir, prefix string) (string, error) {
	for n := 0; n < 1000; n++ {
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", prefix, n))
		if _, err := os.Stat(base + ".pem"); errors.Is(err, os.ErrNotExist) {
			return base, nil
		}
	}
	return "", fmt.Errorf("tls cert create: 1000 certificates named %s-* already in %s", prefix, dir)
}

func writePair(stdout io.Writer, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{keyPath, "EC PRIVATE KEY", kder, 0o600}, {certPath, "CERTIFICATE", der, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return fmt.Errorf("tls: %w (existing files are never overwritten)", err)
		}
		err = pem.Encode(fh, &pem.Block{Type: f.typ, Bytes: f.der})
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("tls: writing %s: %w", f.path, err)
		}
		fmt.Fprintf(stdout, "==> saved %s\n", f.path)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// keyID is the SHA-256 prefix of a public key, for SubjectKeyId.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}
