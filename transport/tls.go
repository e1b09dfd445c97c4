package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// LoadTLSConfig builds a mutual-TLS configuration from PEM files: the node
// presents certFile/keyFile (which must allow both server and client
// authentication) and trusts exactly the CA in caFile, in both directions.
// The same *tls.Config serves the listener and the dialer.
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: tls key pair: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("transport: tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("transport: tls ca %s: %w", caFile, errNoCerts)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// tlsFromConfig returns the TLS config to use, or nil for plain TCP.
func tlsFromConfig(c *Config) (*tls.Config, error) {
	if c.TLS != nil {
		return c.TLS.Clone(), nil
	}
	if c.CertFile == "" {
		return nil, nil
	}
	return LoadTLSConfig(c.CAFile, c.CertFile, c.KeyFile)
}

// tlsClient wraps an outbound connection, verifying the server's
// certificate against the host part of addr unless ServerName is set.
func tlsClient(nc net.Conn, base *tls.Config, addr string) net.Conn {
	cfg := base
	if cfg.ServerName == "" {
		cfg = base.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return tls.Client(nc, cfg)
}
