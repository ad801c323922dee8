package handlers

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Entity tags, as clients and proxies send them back (RFC 9110 §8.8.3).
//
// Our version tokens are unique per write, so they are strong validators and
// comparing them weakly loses nothing. We therefore accept what proxies make
// of them: nginx weakens a tag when it compresses (W/"v"), Apache's
// mod_deflate appends "-gzip" inside the quotes, and some clients drop the
// quotes altogether.

// mangledSuffixes are what compressing proxies append to a tag. A version
// token ends in decimal digits, so none of these can be part of one.
var mangledSuffixes = []string{"-gzip", "-br", "-zstd", "-deflate", ";gzip"}

// maxTagListLen bounds how many tags one header may list.
const maxTagListLen = 32

var errMalformedTags = errors.New("malformed entity-tag list")

// tagList is a parsed If-Match or If-None-Match header.
type tagList struct {
	any  bool     // the header was "*"
	tags []string // opaque tags, unquoted, W/ and proxy suffixes removed
}

// parseTagList parses an If-Match / If-None-Match value: "*" or a
// comma-separated list of entity tags, each optionally weak and optionally
// unquoted.
func parseTagList(h string) (tagList, error) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return tagList{any: true}, nil
	}
	var l tagList
	for h != "" {
		tag, rest, err := nextTag(h)
		if err != nil {
			return tagList{}, err
		}
		if len(l.tags) == maxTagListLen {
			return tagList{}, errMalformedTags
		}
		l.tags = append(l.tags, normalizeTag(tag))
		h = strings.TrimLeft(rest, " \t")
		if h == "" {
			break
		}
		if h[0] != ',' {
			return tagList{}, errMalformedTags
		}
		h = strings.TrimLeft(h[1:], " \t")
	}
	if len(l.tags) == 0 {
		return tagList{}, errMalformedTags
	}
	return l, nil
}

// nextTag splits the first entity tag off s, returning its opaque part.
func nextTag(s string) (tag, rest string, err error) {
	s = strings.TrimPrefix(s, "W/")
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", "", errMalformedTags
		}
		tag = s[1 : 1+end]
		if !etagChars(tag) {
			return "", "", errMalformedTags
		}
		return tag, s[2+end:], nil
	}
	// An unquoted tag, as some clients send: runs to the next comma.
	end := strings.IndexAny(s, ", \t")
	if end < 0 {
		end = len(s)
	}
	tag = s[:end]
	if tag == "" || !etagChars(tag) {
		return "", "", errMalformedTags
	}
	return tag, s[end:], nil
}

// etagChars reports whether s holds only etagc characters (RFC 9110):
// visible ASCII except the double quote.
func etagChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == '"' || c > 0x7e {
			return false
		}
	}
	return true
}

func normalizeTag(tag string) string {
	for _, suffix := range mangledSuffixes {
		if t, ok := strings.CutSuffix(tag, suffix); ok {
			return t
		}
	}
	return tag
}

// matches reports whether the list names version (or is "*").
func (l tagList) matches(version string) bool {
	if l.any {
		return true
	}
	for _, t := range l.tags {
		if t == version {
			return true
		}
	}
	return false
}

// quoteETag renders a version token as a strong entity tag.
func quoteETag(version string) string { return `"` + version + `"` }

// maxPreferWait bounds the wait a client may ask for before the server's own
// cap applies, so the seconds cannot overflow a Duration.
const maxPreferWait = 24 * time.Hour

var errMalformedPrefer = errors.New("malformed wait preference")

// parsePreferWait returns the wait=N preference of a Prefer header (RFC
// 7240), or 0 when there is none. Other preferences are ignored, as the
// RFC asks; a wait that is not a non-negative integer is an error.
func parsePreferWait(h string) (time.Duration, error) {
	for pref := range strings.SplitSeq(h, ",") {
		// Parameters after ';' belong to the preference; wait has none.
		token, _, _ := strings.Cut(pref, ";")
		name, value, hasValue := strings.Cut(strings.TrimSpace(token), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if !hasValue || value == "" {
			return 0, errMalformedPrefer
		}
		secs, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return 0, errMalformedPrefer
		}
		return min(time.Duration(secs)*time.Second, maxPreferWait), nil
	}
	return 0, nil
}
