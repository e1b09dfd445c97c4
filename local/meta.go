package local

// Registry metadata: a small key-value map beside the table, as Elixir's
// Registry.meta/put_meta/delete_meta. It has its own lock and never touches
// the partitions.

// Meta returns the metadata stored under key.
func (r *Registry[P]) Meta(key string) (any, bool) {
	r.metaMu.RLock()
	v, ok := r.meta[key]
	r.metaMu.RUnlock()
	return v, ok
}

// PutMeta stores value under key, replacing any previous value. The key
// follows the same rules as entry keys (ErrKeyEmpty, ErrKeyTooLong).
func (r *Registry[P]) PutMeta(key string, value any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	r.metaMu.Lock()
	r.meta[key] = value
	r.metaMu.Unlock()
	return nil
}

// DeleteMeta removes key from the metadata. Deleting a missing key is a
// no-op.
func (r *Registry[P]) DeleteMeta(key string) {
	r.metaMu.Lock()
	delete(r.meta, key)
	r.metaMu.Unlock()
}
