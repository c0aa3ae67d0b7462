package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Text the client sends is checked once, where the HTTP layer decodes it (the path and
// query in guard, JSON bodies in readJSON, form and multipart fields where they are
// parsed): it must be valid UTF-8 without NUL characters, which PostgreSQL cannot store
// (a 500 otherwise) and which SQLite and logs would keep as surprises.

// errInvalidText answers text that is not valid UTF-8 or contains NUL.
var errInvalidText = &Error{Status: http.StatusBadRequest, Code: "invalid_text",
	Detail: "Text must be valid UTF-8 without NUL characters"}

// validText reports whether v is valid UTF-8 without NUL.
func validText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}

// checkText returns errInvalidText unless every string is validText.
func checkText(vs ...string) error {
	for _, v := range vs {
		if !validText(v) {
			return errInvalidText
		}
	}
	return nil
}

// checkValues checks the keys and values of a query or form.
func checkValues(vs url.Values) error {
	for k, list := range vs {
		if err := checkText(k); err != nil {
			return err
		}
		if err := checkText(list...); err != nil {
			return err
		}
	}
	return nil
}

// checkURL checks r's decoded path (and so every path variable) and its query parameters.
// A query that does not parse is checked as raw text.
func checkURL(r *http.Request) error {
	if err := checkText(r.URL.Path); err != nil {
		return err
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return checkText(r.URL.RawQuery)
	}
	return checkValues(q)
}

// checkJSONText checks every string (keys included) of a JSON document. Raw bytes must be
// UTF-8 (encoding/json would silently replace them); an escaped \u0000 is a NUL.
func checkJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return errInvalidText
	}
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed JSON: the decoder's 400 to give
		}
		if s, ok := tok.(string); ok && !validText(s) {
			return errInvalidText
		}
	}
}
