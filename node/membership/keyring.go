package membership

import "fmt"

// InstallKey adds key to gossip's keyring: received messages may then be
// encrypted with it. Fails with ErrBadKey when gossip runs without a key
// (memberlist cannot turn encryption on while running) or key is not 16,
// 24 or 32 bytes.
func (m *Membership) InstallKey(key []byte) error {
	if m.ring == nil {
		return fmt.Errorf("%w: gossip runs without a key", ErrBadKey)
	}
	if err := m.ring.AddKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return nil
}

// UseKey makes an installed key the one gossip encrypts with.
func (m *Membership) UseKey(key []byte) error {
	if m.ring == nil {
		return fmt.Errorf("%w: gossip runs without a key", ErrBadKey)
	}
	if err := m.ring.UseKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return nil
}

// RemoveKey drops an installed key other than the primary.
func (m *Membership) RemoveKey(key []byte) error {
	if m.ring == nil {
		return fmt.Errorf("%w: gossip runs without a key", ErrBadKey)
	}
	if err := m.ring.RemoveKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return nil
}

// Keys returns gossip's keys, the primary first (nil without a key).
func (m *Membership) Keys() [][]byte {
	if m.ring == nil {
		return nil
	}
	return m.ring.GetKeys()
}
