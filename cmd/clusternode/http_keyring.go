package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/roster-dev/roster/node/cluster"
)

// The keyring endpoints (routes() in http.go). ACL: operatorOnly, every
// one of them: they change or reveal which keys the cluster accepts.
//
//	GET  /v1/operator/keyring                      every node's key ids, primary first
//	POST /v1/operator/keyring {"op":"install|use|remove","key":"<base64>"}
//
// An operation is applied on this node, then on every live member. 200 with
// {"nodes":[{"node","keys"}]} when all succeeded; 500 keyring_failed with
// the same "nodes" (each failure's "error" set) when any did not.

// keyringBackend is the optional backend ability the endpoints need
// (nodeBackend has it; a backend without it answers 501).
type keyringBackend interface {
	Keyring(ctx context.Context, op cluster.KeyringOp, key []byte) ([]cluster.KeyringResult, error)
}

type keyringAnswer struct {
	Error string                  `json:"error,omitempty"`
	Code  string                  `json:"code,omitempty"`
	Nodes []cluster.KeyringResult `json:"nodes"`
}

func (s *apiServer) keyringList(w http.ResponseWriter, r *http.Request) {
	s.keyring(w, r, cluster.KeyringList, nil)
}

func (s *apiServer) keyringChange(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Op  string `json:"op"`
		Key string `json:"key"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	op := cluster.KeyringOp(req.Op)
	switch op {
	case cluster.KeyringInstall, cluster.KeyringUse, cluster.KeyringRemove:
	default:
		writeErr(w, http.StatusBadRequest, "bad_op", `op must be "install", "use" or "remove"`)
		return
	}
	key, err := decodeKey(req.Key)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_key", err.Error())
		return
	}
	s.keyring(w, r, op, key)
}

func (s *apiServer) keyring(w http.ResponseWriter, r *http.Request, op cluster.KeyringOp, key []byte) {
	kb, ok := s.be.(keyringBackend)
	if !ok {
		writeErr(w, http.StatusNotImplemented, "not_implemented", "this agent has no keyring")
		return
	}
	res, err := kb.Keyring(r.Context(), op, key)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, keyringAnswer{Nodes: res})
	case errors.Is(err, cluster.ErrKeyring):
		writeJSON(w, http.StatusInternalServerError, keyringAnswer{Error: err.Error(), Code: "keyring_failed", Nodes: res})
	default:
		s.writeError(w, r, err)
	}
}

// Keyring applies a keyring operation on every live node (keyringBackend).
func (b *nodeBackend) Keyring(ctx context.Context, op cluster.KeyringOp, key []byte) ([]cluster.KeyringResult, error) {
	return b.n.Keyring(ctx, op, key)
}
