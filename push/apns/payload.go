package apns

import (
	"slices"
	"unicode/utf8"

	"github.com/trystgw/tryst/push"
)

// buildPayload renders the APNs JSON payload: the aps dictionary followed
// by n.Flags and n.Data as custom keys (sorted, so payloads are stable),
// at the top level or under n.DataGroup.
func buildPayload(n *push.Notification) []byte {
	size := 64 + len(n.Alert.Title) + len(n.Alert.Body) + len(n.Alert.Sound) + len(n.DataGroup)
	for k, v := range n.Data {
		size += len(k) + len(v) + 6
	}
	for _, k := range n.Flags {
		size += len(k) + 8
	}
	b := make([]byte, 0, size)
	b = appendAps(append(b, '{'), n)
	if n.DataGroup == "" {
		b = appendData(appendFlags(b, n.Flags), n.Data)
		return append(b, '}')
	}
	b = append(b, ',')
	b = appendString(b, n.DataGroup)
	b = append(b, ":{"...)
	if inner := appendData(appendFlags(b, n.Flags), n.Data); len(inner) > len(b) {
		b = append(inner[:len(b)], inner[len(b)+1:]...) // drop the first entry's comma
	}
	return append(b, "}}"...)
}

// appendFlags appends each flag as ,"key":true, sorted.
func appendFlags(b []byte, flags []string) []byte {
	for _, k := range slices.Sorted(slices.Values(flags)) {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ":true"...)
	}
	return b
}

// appendAps appends the "aps" dictionary.
func appendAps(b []byte, n *push.Notification) []byte {
	b = append(b, `"aps":{`...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if n.Kind == push.Background {
		sep()
		b = append(b, `"content-available":1`...)
	} else {
		if n.Alert.Title != "" || n.Alert.Body != "" {
			sep()
			b = appendAlert(b, n.Alert)
		}
		if n.Alert.Sound != "" {
			sep()
			b = append(b, `"sound":`...)
			b = appendString(b, n.Alert.Sound)
		}
	}
	if n.MutableContent {
		sep()
		b = append(b, `"mutable-content":1`...)
	}
	return append(b, '}')
}

// appendAlert appends the "alert" dictionary of a non-empty alert.
func appendAlert(b []byte, a push.AlertContent) []byte {
	b = append(b, `"alert":{`...)
	if a.Title != "" {
		b = append(b, `"title":`...)
		b = appendString(b, a.Title)
		if a.Body != "" {
			b = append(b, ',')
		}
	}
	if a.Body != "" {
		b = append(b, `"body":`...)
		b = appendString(b, a.Body)
	}
	return append(b, '}')
}

// appendData appends the custom keys, sorted.
func appendData(b []byte, data map[string]string) []byte {
	switch len(data) {
	case 0:
	case 1:
		for k, v := range data {
			b = appendPair(b, k, v)
		}
	default:
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendPair(b, k, data[k])
		}
	}
	return b
}

func appendPair(b []byte, k, v string) []byte {
	b = append(b, ',')
	b = appendString(b, k)
	b = append(b, ':')
	return appendString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, replacing invalid UTF-8 with
// U+FFFD like encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
