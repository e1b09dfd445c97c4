package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// KeyringOp is one keyring operation (Consul's `keyring` verbs).
type KeyringOp string

// Keyring operations.
const (
	// KeyringList reports every node's keys.
	KeyringList KeyringOp = "list"
	// KeyringInstall adds a key: it is accepted everywhere, used nowhere.
	KeyringInstall KeyringOp = "install"
	// KeyringUse makes an installed key the primary: new gossip messages,
	// transport and raft handshakes are made with it.
	KeyringUse KeyringOp = "use"
	// KeyringRemove drops a key that is no node's primary.
	KeyringRemove KeyringOp = "remove"
)

// KeyringResult is one node's answer to a keyring operation.
type KeyringResult struct {
	Node transport.NodeID `msgpack:"n" json:"node"`
	// Keys are the node's key ids (transport.KeyID), primary first, after
	// the operation.
	Keys []string `msgpack:"k" json:"keys"`
	// Error is why the operation failed on that node ("" when it did not).
	Error string `msgpack:"e,omitempty" json:"error,omitempty"`
}

// keyringRPC is the transport method a keyring operation travels by.
const keyringRPC = "keyring.apply"

type keyringReq struct {
	Op  KeyringOp `msgpack:"o"`
	Key []byte    `msgpack:"k,omitempty"`
}

// Keyring applies op (with key, except for KeyringList) on this node and
// every live member, in that order, and returns each node's answer sorted
// by node id. Rotation without downtime is three calls, each reaching
// every node before the next: install the new key, use it, remove the
// old one. A node down during an operation misses it (as with Consul):
// run the operation again once it is back. The error wraps ErrKeyring when
// any node failed (the results say which and why).
func (n *Node) Keyring(ctx context.Context, op KeyringOp, key []byte) ([]KeyringResult, error) {
	switch op {
	case KeyringList, KeyringInstall, KeyringUse, KeyringRemove:
	default:
		return nil, fmt.Errorf("%w: unknown keyring operation %q", ErrBadConfig, op)
	}
	if n.cfg.ring == nil {
		return nil, fmt.Errorf("%w: the cluster runs without a key; start every node with one first", ErrKeyring)
	}
	req := keyringReq{Op: op, Key: key}
	body, err := msgpack.Marshal(&req)
	if err != nil {
		return nil, err
	}
	out := []KeyringResult{n.applyKeyring(req)}
	if out[0].Error != "" && op != KeyringList {
		return out, fmt.Errorf("%w on %s: %s", ErrKeyring, n.ID(), out[0].Error)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range n.ml.Members() {
		if m.Meta.Node == n.ID() || m.State != membership.StateAlive {
			continue
		}
		wg.Add(1)
		go func(peer transport.NodeID) {
			defer wg.Done()
			r := KeyringResult{Node: peer}
			resp, err := n.tr.Call(ctx, peer, keyringRPC, body)
			if err == nil {
				err = msgpack.Unmarshal(resp, &r)
			}
			if err != nil {
				r = KeyringResult{Node: peer, Error: err.Error()}
			}
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}(m.Meta.Node)
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	var failed []string
	for _, r := range out {
		if r.Error != "" {
			failed = append(failed, string(r.Node))
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%w on %v", ErrKeyring, failed)
	}
	return out, nil
}

// handleKeyring serves a peer's keyring RPC.
func (n *Node) handleKeyring(body []byte) ([]byte, error) {
	var req keyringReq
	if err := msgpack.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: keyring request: %w", ErrKeyring, err)
	}
	r := n.applyKeyring(req)
	return msgpack.Marshal(&r)
}

// applyKeyring applies req to this node's gossip keyring and the keyring
// the transport and raft share, then saves it to the data dir.
func (n *Node) applyKeyring(req keyringReq) KeyringResult {
	n.keyMu.Lock() // gossip's ring, the shared ring and the file change together
	defer n.keyMu.Unlock()
	ring := n.cfg.ring
	res := KeyringResult{Node: n.ID()}
	err := func() error {
		if ring == nil {
			return errors.New("this node runs without a key")
		}
		switch req.Op {
		case KeyringList:
			return nil
		case KeyringInstall:
			if err := ring.Install(req.Key); err != nil {
				return err
			}
			return n.ml.InstallKey(req.Key)
		case KeyringUse:
			if err := ring.Use(req.Key); err != nil {
				return err
			}
			return n.ml.UseKey(req.Key)
		case KeyringRemove:
			if err := ring.Remove(req.Key); err != nil {
				return err
			}
			return n.ml.RemoveKey(req.Key)
		}
		return fmt.Errorf("unknown keyring operation %q", req.Op)
	}()
	if err == nil && req.Op != KeyringList && !n.cfg.InmemStore {
		err = saveKeyring(n.cfg.DataDir, ring)
	}
	if err != nil {
		res.Error = err.Error()
	}
	for _, k := range ring.Keys() {
		res.Keys = append(res.Keys, transport.KeyID(k))
	}
	return res
}
