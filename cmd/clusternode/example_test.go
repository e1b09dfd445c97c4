package main

import (
	"encoding/json"
	"fmt"
)

// Every agent flag can come from the environment.
func Example_environment() {
	for _, f := range []string{"node", "raft-port", "bootstrap-expect", "encrypt"} {
		fmt.Printf("-%s\t%s\n", f, envName(f))
	}
	// Output:
	// -node	CLUSTERNODE_NODE
	// -raft-port	CLUSTERNODE_RAFT_PORT
	// -bootstrap-expect	CLUSTERNODE_BOOTSTRAP_EXPECT
	// -encrypt	CLUSTERNODE_ENCRYPT
}

// How long-polls render message bodies: JSON sent through the API stays
// JSON (also after crossing to another node as msgpack bytes); Go values
// and generic msgpack decodings are marshalled.
func Example_messageBodies() {
	for _, body := range []any{
		json.RawMessage(`{"order":1}`),
		[]byte(`"hello"`),
		map[any]any{"k": []any{int64(1), "two"}},
		struct{ N int }{7},
	} {
		fmt.Println(string(renderBody(body)))
	}
	// Output:
	// {"order":1}
	// "hello"
	// {"k":[1,"two"]}
	// {"N":7}
}
