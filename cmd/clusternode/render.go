package main

import (
	"encoding/json"
	"fmt"
)

// renderBody turns a message body into JSON for a long-poll answer.
//
//   - json.RawMessage (what the HTTP API sends) is passed through.
//   - []byte that holds valid JSON is passed through too: a JSON message
//     sent over the wire to another node arrives as msgpack bytes.
//   - Anything else (a Go value from a local process, or a remote msgpack
//     body decoded generically) is marshalled; msgpack maps with non-string
//     keys get their keys printed.
//   - A value JSON cannot hold (channels, funcs, NaN) becomes
//     {"unrenderable": "<Go type>", "text": "<fmt %v>"} rather than an error.
func renderBody(v any) json.RawMessage {
	switch b := v.(type) {
	case json.RawMessage:
		if json.Valid(b) {
			return b
		}
	case []byte:
		if len(b) > 0 && json.Valid(b) {
			return json.RawMessage(b)
		}
	}
	out, err := json.Marshal(jsonable(v, 0))
	if err != nil {
		out, _ = json.Marshal(map[string]string{"unrenderable": fmt.Sprintf("%T", v), "text": fmt.Sprintf("%v", v)})
	}
	return out
}

// maxRenderDepth stops jsonable on absurdly nested values.
const maxRenderDepth = 64

// jsonable rewrites the shapes msgpack's generic decoding produces that
// encoding/json cannot marshal (maps with interface keys), recursively.
func jsonable(v any, depth int) any {
	if depth > maxRenderDepth {
		return fmt.Sprintf("%v", v)
	}
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e, depth+1)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = jsonable(e, depth+1)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = jsonable(e, depth+1)
		}
		return s
	default:
		return v
	}
}
