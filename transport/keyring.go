package transport

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
)

// Keyring errors. Compare with errors.Is.
var (
	// ErrKeySize: a key is not 16, 24 or 32 bytes.
	ErrKeySize = errors.New("transport: key must be 16, 24 or 32 bytes")
	// ErrKeyNotInstalled: Use or Remove named a key the ring does not hold.
	ErrKeyNotInstalled = errors.New("transport: key not installed")
	// ErrRemovePrimary: Remove named the primary key; Use another first.
	ErrRemovePrimary = errors.New("transport: cannot remove the primary key")
)

// Keyring is the set of cluster keys a node accepts, one of them primary.
// New proofs (transport and Raft handshakes) are made with the primary; a
// proof by any installed key is accepted. This is memberlist's keyring
// semantics, so one rotation (install new, use new, remove old, each on
// every node) never splits the cluster. Safe for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	keys [][]byte // keys[0] is the primary
}

// NewKeyring returns a keyring with primary as its primary key and others
// installed beside it.
func NewKeyring(primary []byte, others ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	if err := k.Install(primary); err != nil {
		return nil, err
	}
	for _, o := range others {
		if err := k.Install(o); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func checkKeySize(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w: got %d", ErrKeySize, len(key))
}

// Install adds key (a copy); installing a held key is a no-op. The first key
// of an empty ring becomes primary.
func (k *Keyring) Install(key []byte) error {
	if err := checkKeySize(key); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.find(key) >= 0 {
		return nil
	}
	k.keys = append(k.keys, bytes.Clone(key))
	return nil
}

// Use makes an installed key the primary.
func (k *Keyring) Use(key []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.find(key)
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrKeyNotInstalled, KeyID(key))
	}
	k.keys[0], k.keys[i] = k.keys[i], k.keys[0]
	return nil
}

// Remove drops an installed key other than the primary.
func (k *Keyring) Remove(key []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.find(key)
	switch {
	case i < 0:
		return fmt.Errorf("%w: %s", ErrKeyNotInstalled, KeyID(key))
	case i == 0:
		return ErrRemovePrimary
	}
	k.keys = append(k.keys[:i], k.keys[i+1:]...)
	return nil
}

// Primary returns the primary key (nil for a nil or empty ring). The caller
// must not modify it.
func (k *Keyring) Primary() []byte {
	if k == nil {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.keys) == 0 {
		return nil
	}
	return k.keys[0]
}

// Keys returns every installed key, the primary first. The caller must not
// modify them.
func (k *Keyring) Keys() [][]byte {
	if k == nil {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([][]byte(nil), k.keys...)
}

func (k *Keyring) find(key []byte) int {
	for i, have := range k.keys {
		if bytes.Equal(have, key) {
			return i
		}
	}
	return -1
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256,
// base64. Logs and the keyring API show keys by this id.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return base64.RawStdEncoding.EncodeToString(sum[:8])
}
