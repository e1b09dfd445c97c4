package main

import (
	"flag"

	"github.com/hashicorp/go-hclog"
	"net"
	"os"
	"strings"
	"time"
)

// securityConfig is the agent's HTTP security and bounds configuration
// (acl*.go, limits*.go, tls*.go).
type securityConfig struct {
	// ACLs is the token table from -acl-file and CLUSTERNODE_ACL_OPERATOR_TOKEN;
	// nil: ACLs off.
	ACLs    *acls
	Browser browserPolicy
	Limits  limitsConfig
	TLS     httpTLSFiles
	// Insecure accepts a non-loopback bind without a cluster key, and a
	// non-loopback HTTP API without ACLs or client certificates.
	Insecure bool
	// KeyOnArgv is set when the key came from -encrypt on the command line
	// (visible in ps): the agent warns.
	KeyOnArgv bool
	// secretFiles are -encrypt-file, -acl-file and -http-tls-key, checked
	// for modes that let other users read them.
	secretFiles []string
}

// securityFlags are the raw values of the security and bounds flags.
type securityFlags struct {
	encryptFile, aclFile, origins, hosts string
	tls                                  httpTLSFiles
	limits                               limitsConfig
	insecure                             bool
}

// addSecurityFlags registers the flags of securityFlags on fs.
func addSecurityFlags(fs *flag.FlagSet, f *securityFlags) {
	d := defaultLimits()
	fs.StringVar(&f.encryptFile, "encrypt-file", "", "file holding the cluster key (base64, from clusternode keygen); or CLUSTERNODE_ENCRYPT")
	fs.BoolVar(&f.insecure, "insecure", false, "allow a non-loopback -bind without a cluster key, and a non-loopback -http without ACLs or client certificates")
	fs.StringVar(&f.aclFile, "acl-file", "", "JSON file of ACL tokens and policies (ACLs are off without it and CLUSTERNODE_ACL_OPERATOR_TOKEN)")
	fs.StringVar(&f.origins, "http-allowed-origins", "", "comma-separated origins (https://app.example) whose pages may call the API")
	fs.StringVar(&f.hosts, "http-allowed-hosts", "", "comma-separated extra Host names accepted when -http is on loopback")
	fs.StringVar(&f.tls.Cert, "http-tls-cert", "", "PEM certificate: serve the API over HTTPS (with -http-tls-key)")
	fs.StringVar(&f.tls.Key, "http-tls-key", "", "PEM private key of -http-tls-cert")
	fs.StringVar(&f.tls.ClientCA, "http-tls-client-ca", "", "PEM CA: require and verify client certificates signed by it")
	fs.IntVar(&f.limits.MaxProcesses, "max-processes", d.MaxProcesses, "processes HTTP clients may spawn on this node")
	fs.IntVar(&f.limits.MaxProcessesPerToken, "max-processes-per-token", d.MaxProcessesPerToken, "processes one ACL token may spawn on this node")
	fs.IntVar(&f.limits.MailboxLimit, "http-mailbox-limit", d.MailboxLimit, "messages an HTTP client process's mailbox holds (then 429 mailbox_full)")
	fs.IntVar(&f.limits.MaxWatches, "max-watches", d.MaxWatches, "open watch streams on this node")
	fs.IntVar(&f.limits.MaxWatchesPerToken, "max-watches-per-token", d.MaxWatchesPerToken, "open watch streams of one ACL token")
	fs.DurationVar(&f.limits.ReadHeaderTimeout, "http-read-header-timeout", d.ReadHeaderTimeout, "time to receive a request's headers")
	fs.DurationVar(&f.limits.ReadTimeout, "http-read-timeout", d.ReadTimeout, "time to receive a request's body")
	fs.DurationVar(&f.limits.WriteTimeout, "http-write-timeout", d.WriteTimeout, "time for each write of a response to reach the client")
	fs.DurationVar(&f.limits.IdleTimeout, "http-idle-timeout", d.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&f.limits.MaxConns, "http-max-conns", d.MaxConns, "open HTTP connections (more wait to be accepted)")
}

// validateSecurity fills c.Security (and c.Encrypt from -encrypt-file) and
// applies the -insecure rule.
func (f *agentFlags) validateSecurity(c *agentConfig, getenv func(string) string) error {
	s := &f.sec
	c.Security.KeyOnArgv = f.encrypt != "" && getenv(envName("encrypt")) != f.encrypt
	if s.encryptFile != "" {
		if f.encrypt != "" {
			return usagef("give -encrypt-file or -encrypt (CLUSTERNODE_ENCRYPT), not both")
		}
		raw, err := os.ReadFile(s.encryptFile)
		if err != nil {
			return usagef("-encrypt-file: %v", err)
		}
		key, err := decodeKey(strings.TrimSpace(string(raw)))
		if err != nil {
			return usagef("-encrypt-file %s: %v", s.encryptFile, err)
		}
		c.Encrypt = key
	}
	if err := s.validateLimits(); err != nil {
		return err
	}
	c.Security.Limits = s.limits
	acl, err := loadACLs(s.aclFile, getenv(envACLOperatorToken))
	if err != nil {
		return usagef("%v", err)
	}
	c.Security.ACLs = acl
	c.Security.TLS = s.tls
	if err := s.tls.validate(); err != nil {
		return err
	}
	httpHost, _, _ := net.SplitHostPort(c.HTTPAddr)
	c.Security.Browser = browserPolicy{
		AllowedOrigins: splitList(s.origins), AllowedHosts: splitList(s.hosts),
		CheckHost: isLoopback(httpHost),
	}
	c.Security.Insecure = s.insecure
	for _, f := range []string{s.encryptFile, s.aclFile, s.tls.Key} {
		if f != "" {
			c.Security.secretFiles = append(c.Security.secretFiles, f)
		}
	}
	return insecureRule(c)
}

func (s *securityFlags) validateLimits() error {
	l := s.limits
	for _, v := range []struct {
		name string
		n    int
	}{{"-max-processes", l.MaxProcesses}, {"-max-processes-per-token", l.MaxProcessesPerToken},
		{"-http-mailbox-limit", l.MailboxLimit}, {"-max-watches", l.MaxWatches},
		{"-max-watches-per-token", l.MaxWatchesPerToken}, {"-http-max-conns", l.MaxConns}} {
		if v.n < 1 {
			return usagef("%s %d: want at least 1", v.name, v.n)
		}
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"-http-read-header-timeout", l.ReadHeaderTimeout}, {"-http-read-timeout", l.ReadTimeout},
		{"-http-write-timeout", l.WriteTimeout}, {"-http-idle-timeout", l.IdleTimeout}} {
		if v.d < 100*time.Millisecond {
			return usagef("%s %s: want at least 100ms", v.name, v.d)
		}
	}
	return nil
}

// insecureRule refuses, unless -insecure, a cluster reachable from the
// network with no key (anyone who reaches its ports can join it, forge
// names and take Raft over), and an HTTP API reachable from the network
// that lets anybody in.
func insecureRule(c *agentConfig) error {
	if c.Security.Insecure {
		return nil
	}
	if !isLoopback(c.Bind) && !clusterAuthenticated(c) {
		return usagef("refusing to start: -bind %s exposes gossip, transport and raft to the network without a cluster key, "+
			"so anyone who reaches those ports can join the cluster, forge names and take Raft over; "+
			"give a key (-encrypt-file FILE or CLUSTERNODE_ENCRYPT, from clusternode keygen), bind loopback, "+
			"or pass -insecure to run this way on purpose", c.Bind)
	}
	host, _, _ := net.SplitHostPort(c.HTTPAddr)
	if !isLoopback(host) && c.Security.ACLs == nil && c.Security.TLS.ClientCA == "" {
		return usagef("refusing to start: -http %s serves the API to the network without ACLs, "+
			"so anyone who reaches it can spawn processes, take names and read mailboxes; "+
			"give -acl-file (or CLUSTERNODE_ACL_OPERATOR_TOKEN) or -http-tls-client-ca, listen on loopback, "+
			"or pass -insecure to run this way on purpose", c.HTTPAddr)
	}
	return nil
}

// clusterAuthenticated reports whether the node ports prove peers: a
// cluster key (transport TLS, when the agent gets flags for it, counts too).
func clusterAuthenticated(c *agentConfig) bool { return len(c.Encrypt) > 0 }

// isLoopback: a loopback IP (an unspecified one is not).
func isLoopback(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// warnSecurity logs what the configuration leaves open.
func warnSecurity(c *agentConfig, log hclog.Logger) {
	s := c.Security
	for _, f := range s.secretFiles {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("a file with secrets is readable by other users: chmod 600 it", "file", f, "mode", fi.Mode().Perm().String())
		}
	}
	if s.KeyOnArgv {
		log.Warn("the cluster key is on the command line, where every local user can read it (ps): use -encrypt-file or CLUSTERNODE_ENCRYPT")
	}
	host, _, _ := net.SplitHostPort(c.HTTPAddr)
	switch {
	case s.Insecure && !isLoopback(c.Bind) && !clusterAuthenticated(c):
		log.Warn("-insecure: node ports are open to the network without a cluster key", "bind", c.Bind)
	case s.Insecure && !isLoopback(host) && s.ACLs == nil:
		log.Warn("-insecure: the HTTP API is open to the network without ACLs", "http", c.HTTPAddr)
	}
	if s.ACLs == nil {
		log.Info("ACLs are off: every local user may use the whole HTTP API (give -acl-file to turn them on)")
	} else if !isLoopback(host) && !s.TLS.enabled() {
		log.Warn("ACL tokens cross the network in clear text: serve the API over TLS (-http-tls-cert)", "http", c.HTTPAddr)
	}
}
