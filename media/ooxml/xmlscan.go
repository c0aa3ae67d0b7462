package ooxml

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
)

// The kinds of token scanXML reports.
const (
	startTag = iota
	endTag
	charData // escaped text between tags
	cdata    // the raw text of a CDATA section
)

// token is one piece of an XML document. Its slices point into the scanned bytes.
type token struct {
	kind  int
	name  []byte // the element's local name (its prefix dropped), for tags
	attrs []byte // the raw attribute text of a start tag
	text  []byte // charData (still escaped) or cdata
}

var errXML = errors.New("malformed XML")

// scanXML calls fn for each element start and end (a self-closing element gives both) and
// each run of text of the document b, in order, without allocating per token: the large
// Word part is read this way at several times the speed of encoding/xml and with a
// fraction of its garbage. It checks what extraction relies on: UTF-8 input, well-formed
// tags, comments, CDATA and processing instructions, and elements closed in order; it
// does not check attribute syntax beyond quoting, nor names beyond being non-empty. A DTD
// is skipped, never expanded. Errors wrap errXML, or are fn's.
func scanXML(b []byte, fn func(t *token) error) error {
	if !utf8.Valid(b) {
		return fmtXML("the part is not UTF-8")
	}
	var stack [][]byte // open elements' qualified names
	var t token
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if len(stack) > 0 {
				t = token{kind: charData, text: b[i : i+j]}
				if err := fn(&t); err != nil {
					return err
				}
			}
			i += j
			continue
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				return fmtXML("unterminated comment")
			}
			i += 4 + k + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			k := bytes.Index(rest[9:], []byte("]]>"))
			if k < 0 {
				return fmtXML("unterminated CDATA section")
			}
			t = token{kind: cdata, text: rest[9 : 9+k]}
			if err := fn(&t); err != nil {
				return err
			}
			i += 9 + k + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			k := bytes.Index(rest[2:], []byte("?>"))
			if k < 0 {
				return fmtXML("unterminated processing instruction")
			}
			i += 2 + k + 2
		case bytes.HasPrefix(rest, []byte("<!")):
			k := tagEnd(rest)
			if k < 0 {
				return fmtXML("unterminated declaration")
			}
			i += k + 1
		case bytes.HasPrefix(rest, []byte("</")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return fmtXML("unterminated end tag")
			}
			name := bytes.TrimRight(rest[2:k], " \t\r\n")
			if len(stack) == 0 || !bytes.Equal(stack[len(stack)-1], name) {
				return fmtXML("end tag </" + string(name) + "> does not close the open element")
			}
			stack = stack[:len(stack)-1]
			t = token{kind: endTag, name: localName(name)}
			if err := fn(&t); err != nil {
				return err
			}
			i += k + 1
		default:
			k := tagEnd(rest)
			if k < 0 {
				return fmtXML("unterminated start tag")
			}
			body, self := rest[1:k], false
			if len(body) > 0 && body[len(body)-1] == '/' {
				body, self = body[:len(body)-1], true
			}
			n := bytes.IndexAny(body, " \t\r\n")
			if n < 0 {
				n = len(body)
			}
			name := body[:n]
			if len(name) == 0 {
				return fmtXML("a tag without a name")
			}
			t = token{kind: startTag, name: localName(name), attrs: body[n:]}
			if err := fn(&t); err != nil {
				return err
			}
			if self {
				t = token{kind: endTag, name: localName(name)}
				if err := fn(&t); err != nil {
					return err
				}
			} else {
				stack = append(stack, name)
			}
			i += k + 1
		}
	}
	if len(stack) > 0 {
		return fmtXML("unexpected end of the part: <" + string(stack[len(stack)-1]) + "> is not closed")
	}
	return nil
}

// tagEnd is the index of the '>' that ends the tag at the start of b (outside quoted
// attribute values), or -1.
func tagEnd(b []byte) int {
	var quote byte
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// localName drops a name's namespace prefix ("w:t" → "t").
func localName(name []byte) []byte {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// attrValue returns the unescaped value of the attribute whose local name is local in the
// raw attribute text attrs, or "".
func attrValue(attrs []byte, local string) string {
	for len(attrs) > 0 {
		attrs = bytes.TrimLeft(attrs, " \t\r\n")
		eq := bytes.IndexByte(attrs, '=')
		if eq < 0 {
			return ""
		}
		name := bytes.TrimSpace(attrs[:eq])
		rest := bytes.TrimLeft(attrs[eq+1:], " \t\r\n")
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return ""
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return ""
		}
		if string(localName(name)) == local {
			v, err := appendUnescaped(nil, rest[1:1+end])
			if err != nil {
				return ""
			}
			return string(v)
		}
		attrs = rest[1+end+1:]
	}
	return ""
}

// entities are XML's predefined entities.
var entities = map[string]byte{"lt": '<', "gt": '>', "amp": '&', "apos": '\'', "quot": '"'}

// appendUnescaped appends the text raw with its entity and character references replaced.
func appendUnescaped(dst, raw []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i+1:]
		j := bytes.IndexByte(raw, ';')
		if j <= 0 || j > 10 {
			return dst, fmtXML("a bare '&' in text")
		}
		ref := raw[:j]
		raw = raw[j+1:]
		if ref[0] != '#' {
			c, ok := entities[string(ref)]
			if !ok {
				return dst, fmtXML("unknown entity &" + string(ref) + ";")
			}
			dst = append(dst, c)
			continue
		}
		var n uint64
		var err error
		if len(ref) > 1 && (ref[1] == 'x' || ref[1] == 'X') {
			n, err = strconv.ParseUint(string(ref[2:]), 16, 32)
		} else {
			n, err = strconv.ParseUint(string(ref[1:]), 10, 32)
		}
		if err != nil || !utf8.ValidRune(rune(n)) {
			return dst, fmtXML("bad character reference &" + string(ref) + ";")
		}
		dst = utf8.AppendRune(dst, rune(n))
	}
}

type xmlError string

func (e xmlError) Error() string { return errXML.Error() + ": " + string(e) }
func (e xmlError) Unwrap() error { return errXML }

func fmtXML(s string) error { return xmlError(s) }
