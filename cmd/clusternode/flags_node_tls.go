package main

import (
	"flag"

	"github.com/roster-dev/roster/transport"
)

// nodeTLS is mutual TLS for the node ports (transport and Raft): every
// node presents a certificate from one CA and trusts exactly that CA.
type nodeTLS struct {
	CAFile, CertFile, KeyFile string
}

func (t *nodeTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&t.CAFile, "tls-ca-file", "", "PEM CA of the node ports' mutual TLS (transport and raft; with -tls-cert-file and -tls-key-file)")
	fs.StringVar(&t.CertFile, "tls-cert-file", "", "PEM certificate this node presents on the transport and raft ports (server and client auth)")
	fs.StringVar(&t.KeyFile, "tls-key-file", "", "PEM private key of -tls-cert-file")
}

// validate checks that all three files are given, or none, and that they
// load.
func (t *nodeTLS) validate() error {
	n := 0
	for _, f := range []string{t.CAFile, t.CertFile, t.KeyFile} {
		if f != "" {
			n++
		}
	}
	switch n {
	case 0:
		return nil
	case 3:
		if _, err := transport.LoadTLSConfig(t.CAFile, t.CertFile, t.KeyFile); err != nil {
			return usagef("-tls-*-file: %v", err)
		}
		return nil
	}
	return usagef("-tls-ca-file, -tls-cert-file and -tls-key-file go together")
}
