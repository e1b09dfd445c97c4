package cluster

import "errors"

// Errors returned by the clustered node (besides those of package node,
// global and membership, which it passes on wrapped). Compare with
// errors.Is.
var (
	// ErrBadConfig: Config.Validate found a bad field. Errors of the
	// runtime's part (node.Config) match node.ErrBadConfig too.
	ErrBadConfig = errors.New("cluster: invalid config")
	// ErrBadProfile: ParseProfile got a name it does not know.
	ErrBadProfile = errors.New("cluster: unknown profile")
	// ErrDataDirOwner: the data dir holds another node's Raft state.
	ErrDataDirOwner = errors.New("cluster: data dir belongs to another node")
	// ErrKeyring: a keyring operation failed on some node (the results
	// say which and why).
	ErrKeyring = errors.New("cluster: keyring operation failed")
)
