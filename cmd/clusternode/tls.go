package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// httpTLSFiles are the PEM files of the HTTP API's TLS: a server
// certificate and key, and optionally a CA that client certificates must
// chain to (then every client must present one).
type httpTLSFiles struct {
	Cert, Key, ClientCA string
}

// enabled reports whether the API serves HTTPS.
func (f httpTLSFiles) enabled() bool { return f.Cert != "" }

func (f httpTLSFiles) validate() error {
	if (f.Cert == "") != (f.Key == "") {
		return usagef("-http-tls-cert and -http-tls-key go together")
	}
	if f.ClientCA != "" && f.Cert == "" {
		return usagef("-http-tls-client-ca needs -http-tls-cert and -http-tls-key")
	}
	return nil
}

// serverConfig loads the files into a server tls.Config: TLS 1.2 or
// later, and with ClientCA, client certificates required and verified.
func (f httpTLSFiles) serverConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("-http-tls-cert/-http-tls-key: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("-http-tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-http-tls-client-ca %s: no PEM certificate in it", f.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
