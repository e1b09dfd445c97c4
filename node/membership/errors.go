package membership

import "errors"

// Errors returned by this package.
var (
	ErrMetaTooLarge  = errors.New("membership: node meta over 512 bytes")
	ErrBadMeta       = errors.New("membership: malformed node meta")
	ErrWrongCluster  = errors.New("membership: peer belongs to another cluster")
	ErrVersion       = errors.New("membership: incompatible protocol version")
	ErrBadKey        = errors.New("membership: gossip key must be 16, 24 or 32 bytes")
	ErrNoSeedsJoined = errors.New("membership: could not join any seed")
	ErrShutdown      = errors.New("membership: shut down")
	ErrBadConfig     = errors.New("membership: invalid config")
	ErrNameMismatch  = errors.New("membership: gossip name differs from meta node id")
)
