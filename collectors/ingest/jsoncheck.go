package ingest

import "fmt"

// CheckJSONStrings refuses a JSON body with a control character written
// raw inside a string (see rawControlInJSONString), saying where.
func CheckJSONStrings(b []byte) error {
	if off := rawControlInJSONString(b); off >= 0 {
		return fmt.Errorf("control character 0x%02x inside a string at byte %d (write it escaped, \\u%04x)", b[off], off, b[off])
	}
	return nil
}

// rawControlInJSONString returns the offset in b of the first control
// character (U+0000 to U+001F) written raw inside a JSON string, or -1.
// JSON wants them escaped. json-iterator, which the Loki and JSON-lines
// decoders use for speed, and OTel's pdata lets them through once a string has had an
// escape sequence (`"\b<0x19>"`), so those decoders check with this. A
// body without any byte below 0x20 (compact JSON, or one line of JSON
// lines) costs one pass over its bytes; only others are read string by
// string.
func rawControlInJSONString(b []byte) int {
	clean := true
	for _, c := range b {
		if c < 0x20 {
			clean = false
			break
		}
	}
	if clean {
		return -1
	}
	inString, escaped := false, false
	for i, c := range b {
		switch {
		case !inString:
			inString = c == '"'
		case escaped:
			escaped = false
			if c < 0x20 {
				return i
			}
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c < 0x20:
			return i
		}
	}
	return -1
}
