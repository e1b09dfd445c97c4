package node

import "unsafe"

// boxer returns a function that turns a *T into an interface value (an
// `any` holding a T) without copying the T when it can: one allocation per
// received message (new(T) in decodeAs) instead of two (new(T), then the
// copy Go makes to box it).
//
// An interface value is two words, a type word and a data word. For most
// types (structs of several words, strings, slices, numbers...) the data
// word points to a heap copy of the value, allocated like new(T); the
// returned function makes p that copy. For pointer-shaped types (pointers,
// maps, channels, funcs, and structs or arrays holding just one of those)
// the data word is the value itself and boxing costs nothing, so it boxes
// normally. Which case applies is read from the runtime itself, once, by
// boxing a zero T: a pointer-shaped zero value has a nil data word,
// anything else points to a copy. A boxed p must not be written again
// (nothing else holds it).
func boxer[T any]() func(p *T) any {
	var zero T
	var probe any = zero
	w := *(*eface)(unsafe.Pointer(&probe))
	if w.data == nil { // pointer-shaped: the data word is the value
		return func(p *T) any { return *p }
	}
	return func(p *T) any {
		var v any
		vw := (*eface)(unsafe.Pointer(&v))
		vw.typ, vw.data = w.typ, unsafe.Pointer(p)
		return v
	}
}

// eface is the layout of an interface value with no methods (any).
type eface struct {
	typ, data unsafe.Pointer
}
