package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestRenderBody(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{json.RawMessage(`{"a":1}`), `{"a":1}`},
		{[]byte(`[1,2]`), `[1,2]`},
		{[]byte{0xff, 0x00}, `"/wA="`},
		{"hi", `"hi"`},
		{map[any]any{int8(1): "x"}, `{"1":"x"}`},
		{[]any{map[any]any{"k": []any{1}}}, `[{"k":[1]}]`},
		{math.NaN(), `{"text":"NaN","unrenderable":"float64"}`},
		{make(chan int), `{"text":`},
	}
	for _, c := range cases {
		got := string(renderBody(c.in))
		if !strings.HasPrefix(got, c.want) || !json.Valid([]byte(got)) {
			t.Errorf("renderBody(%#v) = %s, want %s (valid JSON)", c.in, got, c.want)
		}
	}
}
