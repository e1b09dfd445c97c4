package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// gossipKeyLen is the length of a gossip key: 32 bytes selects AES-256-GCM.
const gossipKeyLen = 32

// runKeygen prints a new random gossip key, base64 (standard encoding), for
// -encrypt / CLUSTERNODE_ENCRYPT.
func runKeygen(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("keygen takes no arguments, got %q", args)
	}
	key := make([]byte, gossipKeyLen)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err := fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
	return err
}

// decodeKey parses a key printed by keygen: base64 of 16, 24 or 32 bytes.
func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes, want 32 (or 16 or 24)", len(key))
}
