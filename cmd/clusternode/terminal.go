package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names, meta and messages are anyone's input. Printed raw, an escape
// sequence in a name can move the cursor, rewrite earlier lines, set the
// window title or, on some terminals, answer back as keyboard input. So
// every CLI output goes through safeText (tables, errors) or safeJSON
// (-json output and watch events).

// safeText escapes what a terminal would interpret: C0 and C1 control
// characters and DEL (as \n, \t, \x1b, \u009b...), invalid UTF-8 bytes
// (\xff), and the Unicode format characters that reorder or hide text
// (bidi overrides, zero-width characters: \u202e). A backslash is doubled
// so that the escapes stay unambiguous. Other text is unchanged.
func safeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case dangerous(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || r == utf8.RuneError || dangerous(r) {
			return true
		}
	}
	return false
}

// dangerous: C1 controls (U+0080..U+009F; U+009B is CSI on some
// terminals) and format characters (Cf: bidi overrides and isolates,
// zero-width joiners and spaces).
func dangerous(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Cf, r)
}

// safeJSON escapes, inside JSON text produced by encoding/json (which
// escapes C0 controls but leaves DEL, C1 controls and format characters
// raw), those characters as \uXXXX: the JSON means the same, and a
// terminal sees only ASCII for them. Such characters can occur only inside
// strings, where \u escapes are valid.
func safeJSON(b []byte) []byte {
	s := string(b)
	need := false
	for _, r := range s {
		if r == 0x7f || dangerous(r) || r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			need = true
			break
		}
	}
	if !need {
		return b
	}
	var out strings.Builder
	for _, r := range s {
		if r == 0x7f || dangerous(r) || r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return []byte(out.String())
}
