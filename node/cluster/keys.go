package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// keyringFile holds a node's keyring in its data dir once a keyring
// operation changed it: the keys (base64), primary first, mode 0600. At
// start it wins over ClusterConfig.Key, as Consul's local.keyring does, so a
// node restarted with the flag it was first given keeps the rotated keys.
const keyringFile = "keyring.json"

type keyringOnDisk struct {
	Keys []string `json:"keys"`
}

// openKeyring returns the keyring shared by gossip, the transport handshake
// and the raft proof: the data dir's keyring file when there is one, else
// Key alone; nil without any key.
func openKeyring(cc *Config, log hclog.Logger) (*transport.Keyring, error) {
	if !cc.InmemStore && cc.DataDir != "" {
		keys, err := loadKeyring(filepath.Join(cc.DataDir, keyringFile))
		switch {
		case err == nil:
			if len(cc.Key) > 0 && transport.KeyID(keys[0]) != transport.KeyID(cc.Key) {
				log.Info("using the keyring saved in the data dir; the configured key is not its primary",
					"primary", transport.KeyID(keys[0]), "configured", transport.KeyID(cc.Key))
			}
			ring, err := transport.NewKeyring(keys[0], keys[1:]...)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, keyringFile, err)
			}
			return ring, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, keyringFile, err)
		}
	}
	if len(cc.Key) == 0 {
		return nil, nil
	}
	ring, err := transport.NewKeyring(cc.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return ring, nil
}

func loadKeyring(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d keyringOnDisk
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if len(d.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	keys := make([][]byte, len(d.Keys))
	for i, s := range d.Keys {
		if keys[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
	}
	return keys, nil
}

// saveKeyring writes ring to dir atomically (temp file, fsync, rename).
func saveKeyring(dir string, ring *transport.Keyring) error {
	var d keyringOnDisk
	for _, k := range ring.Keys() {
		d.Keys = append(d.Keys, base64.StdEncoding.EncodeToString(k))
	}
	b, _ := json.Marshal(d)
	f, err := os.CreateTemp(dir, keyringFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, keyringFile))
}

// raftAuth is the raft listener's and dialer's authentication: the shared
// keyring's proof and, when the TLS files are set, mutual TLS from them
// (the same certificates as the transport's).
func raftAuth(cc *Config, id transport.NodeID, log hclog.Logger) (transport.StreamConfig, error) {
	sc := transport.StreamConfig{ClusterID: cc.ClusterID, NodeID: id, Keyring: cc.ring, Logger: log.Named("raft-auth")}
	if cc.Profile == ProfileFast {
		sc.HandshakeTimeout = time.Second
	}
	if cc.TLSCertFile != "" {
		tc, err := transport.LoadTLSConfig(cc.TLSCAFile, cc.TLSCertFile, cc.TLSKeyFile)
		if err != nil {
			return sc, fmt.Errorf("%w: raft tls: %w", ErrBadConfig, err)
		}
		sc.TLS = tc
	}
	return sc, nil
}

// gossipKeys splits the keyring for memberlist: its primary and the rest.
func gossipKeys(ring *transport.Keyring) (primary []byte, rest [][]byte) {
	keys := ring.Keys()
	if len(keys) == 0 {
		return nil, nil
	}
	return keys[0], keys[1:]
}
