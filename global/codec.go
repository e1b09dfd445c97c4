package global

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Every array we decode from the log or the network goes through
// decodeArray: msgpack would otherwise pre-size a slice from the declared
// length (up to a million elements) before reading any of them, so a few
// bytes of garbage could claim gigabytes.

// decodeArray decodes a msgpack array of T from dec. Its declared length
// must be at most limit and at most avail (the bytes left to read: every
// element takes at least one). A nil array decodes as nil.
func decodeArray[T any](dec *msgpack.Decoder, limit, avail int) ([]T, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	if n > limit || n > avail {
		return nil, fmt.Errorf("array of %d elements (limit %d, %d bytes left)", n, limit, avail)
	}
	out := make([]T, n)
	for i := range out {
		if err := dec.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

// decodeArrayBytes decodes data, which must hold one msgpack array of T.
func decodeArrayBytes[T any](data []byte, limit int) ([]T, error) {
	return decodeArray[T](msgpack.NewDecoder(bytes.NewReader(data)), limit, len(data))
}
