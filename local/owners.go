package local

// Owners is the process runtime a Registry asks about the processes that own
// its entries. node.Node implements it; tests use a small fake.
//
// The Registry calls Attach when a pid gets its first entry and Detach when
// its last entry is removed. It never holds a registry lock while calling
// either, and it never has two calls for the same pid outstanding at once:
// for one (pid, listener) pair the calls strictly alternate Attach, Detach,
// Attach, ... (an Attach that fails is not followed by a Detach). An
// implementation may therefore either count or ignore a repeated Attach; the
// Registry does not rely on either.
type Owners[P comparable] interface {
	// Attach asks to have l.OwnerExited(pid, reason) called exactly once,
	// after pid exits. It returns an error wrapping ErrNoProc if pid is not a
	// live process of this node; the Registry then rolls the registration
	// back. Any other error is treated the same way (the Registry cannot
	// track the owner, so it refuses the entry).
	//
	// Called from the goroutine of the Register call that adds the pid's
	// first entry. It should not block for long. It may call OwnerExited
	// itself (synchronously or from another goroutine) if pid exits while
	// Attach runs.
	Attach(pid P, l ExitListener[P]) error

	// Detach cancels Attach; after it returns no OwnerExited call for
	// (pid, l) starts (one that already started may still be running, and
	// the Registry tolerates that). Detaching a pid that is not attached, or
	// has already exited, is a no-op.
	//
	// Called from the goroutine of the Unregister (or UnregisterMatch) call
	// that removes the pid's last entry. It should not block for long.
	Detach(pid P, l ExitListener[P])
}

// ExitListener receives process exits from an Owners runtime. *Registry
// implements it.
type ExitListener[P comparable] interface {
	// OwnerExited is called once, after pid exited, with the exit reason
	// (for node: node.Normal, node.Killed, or the process's own error). It
	// is called from the runtime's goroutine, may run concurrently with any
	// registry method, and must not be called while the runtime holds a lock
	// that Attach or Detach also take.
	OwnerExited(pid P, reason error)
}

// ExitedOwners is an optional extension of Owners (found by type
// assertion): a runtime that can tell whether a pid has already exited, even
// while its exit listeners are still being called. With it, Register treats
// a unique key held by an exited owner as free instead of failing with an
// AlreadyRegisteredError naming a dead pid. node.Node implements it.
type ExitedOwners[P comparable] interface {
	// Exited reports whether pid has exited and, if so, its exit reason.
	// It returns false for a live pid. A pid the runtime once had and has
	// forgotten (its cleanup has run) should report true, with any reason:
	// Register looks at the owner of an entry, then asks, and the owner's
	// cleanup may finish in between.
	// Called from the goroutine of a Register call, with no registry lock
	// held; it must not block.
	Exited(pid P) (reason error, exited bool)
}
