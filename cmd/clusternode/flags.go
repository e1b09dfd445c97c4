package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// Default ports and addresses.
const (
	defaultGossipPort = 7946 // memberlist's usual port
	defaultPort       = 7947 // our transport (messages, forwarded writes)
	defaultRaftPort   = 7948
	defaultHTTPAddr   = "127.0.0.1:7480" // loopback: expose it on purpose
	envPrefix         = "CLUSTERNODE_"
)

// agentConfig is the agent's parsed and validated configuration.
type agentConfig struct {
	Node            transport.NodeID
	DataDir         string // empty only with Dev (a temporary dir is made)
	RaftLogStore    global.LogStore
	RejoinAsNew     bool   // a data dir missing raft.db or the WAL starts empty
	Bind            string // IP for gossip, transport and raft
	Advertise       string // IP peers dial; empty: derived from Bind
	GossipPort      int
	Port            int
	RaftPort        int
	HTTPAddr        string
	Join            []string // gossip seeds: IP:port, HOST:port (DNS, re-resolved) or membership.SRVSeedPrefix+NAME
	JoinResolver    string   // DNS server IP:PORT for the -join names; empty: the system's
	BootstrapExpect int
	Encrypt         []byte // gossip key; nil: plain gossip
	Profile         string // "lan" or "fast"
	LogLevel        hclog.Level
	LogJSON         bool
	Dev             bool
	// Security holds ACLs, browser checks, HTTP TLS and bounds (flags_security.go).
	Security securityConfig
	NodeTLS  nodeTLS // mutual TLS on the transport and raft ports
}

// agentFlags binds the flag set to raw string/int values.
type agentFlags struct {
	node, dataDir, bind, advertise, httpAddr, join, joinSRV, joinResolver string
	encrypt, profile, logLevel, raftLogStore                              string
	gossipPort, port, raftPort, bootstrapExpect                           int
	logJSON, dev, rejoinAsNew                                             bool
	sec                                                                   securityFlags
	nodeTLS                                                               nodeTLS
}

func newAgentFlagSet(f *agentFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("clusternode agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.node, "node", "", "node id, stable across restarts (default: the hostname)")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for raft state (required unless -dev)")
	fs.StringVar(&f.raftLogStore, "raft-log-store", string(global.LogStoreBoltDB), "raft log store of a new data dir: wal or boltdb (an existing data dir must hold the same)")
	fs.BoolVar(&f.rejoinAsNew, "rejoin-as-new", false, "when raft.db or the WAL is missing beside other raft state, move the rest to DATA-DIR/discarded/ and start empty (the node forgets its term and vote)")
	fs.StringVar(&f.bind, "bind", "0.0.0.0", "IP to bind gossip, transport and raft to")
	fs.StringVar(&f.advertise, "advertise", "", "IP other nodes dial (default: -bind, or this host's first private IP when -bind is 0.0.0.0)")
	fs.IntVar(&f.gossipPort, "gossip-port", defaultGossipPort, "memberlist port (UDP and TCP)")
	fs.IntVar(&f.port, "port", defaultPort, "transport port (messages between nodes, forwarded writes)")
	fs.IntVar(&f.raftPort, "raft-port", defaultRaftPort, "raft port")
	fs.StringVar(&f.httpAddr, "http", defaultHTTPAddr, "HTTP API address, IP:PORT (loopback unless told otherwise)")
	fs.StringVar(&f.join, "join", "", "comma-separated gossip addresses HOST[:PORT] of nodes to join; a DNS name joins every A/AAAA record and is resolved again at every retry")
	fs.StringVar(&f.joinSRV, "join-srv", "", "comma-separated DNS names whose SRV records (target and port) are gossip addresses to join, resolved again at every retry")
	fs.StringVar(&f.joinResolver, "join-resolver", "", "DNS server IP:PORT that resolves -join and -join-srv names (default: the system resolver)")
	fs.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "bootstrap raft once this many servers joined (the first 3 or 5 nodes)")
	fs.StringVar(&f.encrypt, "encrypt", "", "cluster key, base64 (from clusternode keygen); prefer -encrypt-file or CLUSTERNODE_ENCRYPT: argv is visible in ps")
	fs.StringVar(&f.profile, "profile", "lan", "failure-detection timings: lan or fast")
	fs.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "log JSON lines")
	f.nodeTLS.register(fs)
	fs.BoolVar(&f.dev, "dev", false, "one node that bootstraps itself, temporary data dir, loopback, fast profile")
	addSecurityFlags(fs, &f.sec)
	return fs
}

// envName is the environment variable for a flag: -raft-port → CLUSTERNODE_RAFT_PORT.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its CLUSTERNODE_* variable (flags win over the environment).
// Positional arguments may come before, between or after flags; they are
// returned in order. A bad value yields one line naming the flag or
// variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if err != nil || set[f.Name] || v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usagef("invalid value %q for %s: %v", v, envName(f.Name), e)
		}
	})
	return pos, err
}

// parseAgentConfig parses and validates the agent's flags and environment.
func parseAgentConfig(args []string, getenv func(string) string) (*agentConfig, error) {
	var f agentFlags
	fs := newAgentFlagSet(&f)
	pos, err := parseFlags(fs, args, getenv)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected argument %q", pos[0])
	}
	c, err := f.validate()
	if err != nil {
		return nil, err
	}
	if err := f.validateSecurity(c, getenv); err != nil {
		return nil, err
	}
	return c, nil
}

func (f *agentFlags) validate() (*agentConfig, error) {
	c := &agentConfig{
		DataDir: f.dataDir, Bind: f.bind, Advertise: f.advertise, HTTPAddr: f.httpAddr,
		GossipPort: f.gossipPort, Port: f.port, RaftPort: f.raftPort,
		BootstrapExpect: f.bootstrapExpect, Profile: f.profile, LogJSON: f.logJSON, Dev: f.dev,
		RejoinAsNew: f.rejoinAsNew,
	}
	store, err := global.ParseLogStore(f.raftLogStore)
	if err != nil {
		return nil, usagef("-raft-log-store %q: want wal or boltdb", f.raftLogStore)
	}
	c.RaftLogStore = store
	if err := f.validateNode(c); err != nil {
		return nil, err
	}
	if err := f.validateNet(c); err != nil {
		return nil, err
	}
	if err := f.validateCluster(c); err != nil {
		return nil, err
	}
	if err := f.nodeTLS.validate(); err != nil {
		return nil, err
	}
	c.NodeTLS = f.nodeTLS
	c.LogLevel = hclog.LevelFromString(f.logLevel)
	if c.LogLevel == hclog.NoLevel {
		return nil, usagef("-log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	return c, nil
}

func (f *agentFlags) validateNode(c *agentConfig) error {
	node := f.node
	if node == "" {
		h, err := os.Hostname()
		if err != nil {
			return usagef("-node not given and the hostname is unknown: %v", err)
		}
		node = h
	}
	c.Node = transport.NodeID(node)
	if err := transport.ValidateNodeID(c.Node); err != nil {
		return usagef("-node %q: %v", node, err)
	}
	if c.DataDir == "" && !c.Dev {
		return usagef("-data-dir is required (or use -dev for a throwaway single node)")
	}
	return nil
}

func (f *agentFlags) validateNet(c *agentConfig) error {
	if c.Dev && f.bind == "0.0.0.0" {
		c.Bind = "127.0.0.1"
	}
	if net.ParseIP(c.Bind) == nil {
		return usagef("-bind %q is not an IP address", c.Bind)
	}
	if c.Advertise != "" && net.ParseIP(c.Advertise) == nil {
		return usagef("-advertise %q is not an IP address", c.Advertise)
	}
	if c.Advertise == "" {
		c.Advertise = defaultAdvertise(c.Bind)
	}
	ports := map[int]string{}
	for _, p := range []struct {
		name string
		v    int
	}{{"-gossip-port", c.GossipPort}, {"-port", c.Port}, {"-raft-port", c.RaftPort}} {
		if p.v < 0 || p.v > 65535 {
			return usagef("%s %d: want 1..65535 (0: any free port)", p.name, p.v)
		}
		if other, dup := ports[p.v]; dup && p.v != 0 {
			return usagef("%s and %s are both %d", other, p.name, p.v)
		}
		ports[p.v] = p.name
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || net.ParseIP(host) == nil {
		return usagef("-http %q: want IP:PORT, e.g. %s", c.HTTPAddr, defaultHTTPAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("-http %q: bad port", c.HTTPAddr)
	}
	return nil
}

func (f *agentFlags) validateCluster(c *agentConfig) error {
	for _, a := range strings.Split(f.join, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, strconv.Itoa(defaultGossipPort))
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return usagef("-join: bad address %q: want HOST[:PORT]", a)
		}
		c.Join = append(c.Join, a)
	}
	for _, n := range strings.Split(f.joinSRV, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if strings.ContainsAny(n, ":/ ") {
			return usagef("-join-srv: bad name %q: want a DNS name such as _gossip._tcp.roster-peers.default.svc.cluster.local", n)
		}
		c.Join = append(c.Join, membership.SRVSeedPrefix+n)
	}
	if f.joinResolver != "" {
		host, port, err := net.SplitHostPort(f.joinResolver)
		if err != nil || net.ParseIP(host) == nil || port == "" {
			return usagef("-join-resolver %q: want IP:PORT of a DNS server", f.joinResolver)
		}
		c.JoinResolver = f.joinResolver
	}
	if c.BootstrapExpect < 0 || c.BootstrapExpect > 9 {
		return usagef("-bootstrap-expect %d: want 0..9 (3 or 5 is usual)", c.BootstrapExpect)
	}
	if c.Dev {
		if c.BootstrapExpect > 1 {
			return usagef("-dev runs one node: -bootstrap-expect %d makes no sense with it", c.BootstrapExpect)
		}
		c.BootstrapExpect = 1
		if f.profile == "lan" {
			c.Profile = "fast"
		}
	}
	if c.Profile != "lan" && c.Profile != "fast" {
		return usagef("-profile %q: want lan or fast", c.Profile)
	}
	if f.encrypt != "" {
		key, err := decodeKey(f.encrypt)
		if err != nil {
			return usagef("-encrypt: %v", err)
		}
		c.Encrypt = key
	}
	return nil
}

// defaultAdvertise is the bind IP, or for 0.0.0.0 / :: the first private
// (RFC 1918 / ULA) address of this host, else its first non-loopback one,
// else loopback.
func defaultAdvertise(bind string) string {
	ip := net.ParseIP(bind)
	if !ip.IsUnspecified() {
		return bind
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	var fallback string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.To4() == nil {
			continue
		}
		if n.IP.IsPrivate() {
			return n.IP.String()
		}
		if fallback == "" {
			fallback = n.IP.String()
		}
	}
	if fallback != "" {
		return fallback
	}
	return "127.0.0.1"
}
