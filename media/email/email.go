package email

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path"
	"strings"

	"github.com/tldw-go/tldw/media"
)

// maxDepth bounds nested multiparts (and message/rfc822 parts) of one message.
const maxDepth = 10

// Extractor reads e-mail. HTML extracts text/html parts; with it nil they are skipped with
// a warning. Safe for concurrent use when HTML is.
type Extractor struct {
	HTML media.Extractor
}

var _ media.Extractor = Extractor{}

// Handles reports whether src is a message or a mailbox.
func (Extractor) Handles(src media.Source) bool {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	switch strings.ToLower(path.Ext(src.Name)) {
	case ".eml", ".mbox", ".mbx":
		return strings.HasPrefix(ct, "text/") || ct == "message/rfc822" || ct == "application/mbox" || ct == "application/octet-stream" || ct == ""
	}
	return ct == "message/rfc822" || ct == "application/mbox"
}

// Extract returns the text of every message. Errors wrap media.ErrUnsupported (not e-mail),
// media.ErrInvalid (no parsable message), media.ErrTooLarge (text over src.Limit()), or the
// reader's error.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !x.Handles(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not e-mail", media.ErrUnsupported, src.Name, src.ContentType)
	}
	raw, err := media.ReadSource(ctx, src, 4)
	if err != nil {
		return nil, err
	}
	msgs := [][]byte{raw}
	if bytes.HasPrefix(raw, []byte("From ")) {
		msgs = splitMbox(raw)
	}
	w := &writer{x: x, ctx: ctx, limit: src.Limit(), out: &media.Extracted{Metadata: map[string]string{}}}
	for i, m := range msgs {
		msg, err := mail.ReadMessage(bytes.NewReader(m))
		if err != nil {
			if len(msgs) == 1 {
				return nil, fmt.Errorf("%w: %s is not a readable message: %v", media.ErrInvalid, src.Name, err)
			}
			w.out.Warnings = append(w.out.Warnings, fmt.Sprintf("message %d skipped: %v", i+1, err))
			continue
		}
		if err := w.message(msg, len(msgs) > 1); err != nil {
			return nil, err
		}
	}
	if w.b.Len() == 0 {
		return nil, fmt.Errorf("%w: %s holds no readable message", media.ErrInvalid, src.Name)
	}
	w.out.Text = strings.TrimSpace(media.NormalizeText(w.b.String()))
	if len(msgs) > 1 {
		w.out.Metadata["messages"] = fmt.Sprint(len(w.out.Sections))
	}
	if int64(len(w.out.Text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
	}
	return w.out, nil
}

// splitMbox cuts an mbox at its "From " separator lines, undoing ">From " quoting.
func splitMbox(raw []byte) [][]byte {
	var msgs [][]byte
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), len(raw)+1)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("From ")) {
			if len(cur) > 0 {
				msgs = append(msgs, cur)
			}
			cur = nil
			continue
		}
		if bytes.HasPrefix(line, []byte(">From ")) {
			line = line[1:]
		}
		cur = append(append(cur, line...), '\n')
	}
	if len(cur) > 0 {
		msgs = append(msgs, cur)
	}
	return msgs
}

// writer accumulates the text of the messages.
type writer struct {
	x     Extractor
	ctx   context.Context
	limit int64
	b     strings.Builder
	out   *media.Extracted
	atts  []string
}

var dec = mime.WordDecoder{}

func header(h mail.Header, key string) string {
	v := h.Get(key)
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

func (w *writer) message(msg *mail.Message, sectioned bool) error {
	if w.b.Len() > 0 {
		w.b.WriteString("\n\n")
	}
	subject := header(msg.Header, "Subject")
	if w.out.Title == "" {
		w.out.Title = subject
	}
	if sectioned {
		w.out.Sections = append(w.out.Sections, media.Section{Title: subject, Offset: w.b.Len()})
	}
	for _, k := range []string{"From", "To", "Cc", "Date", "Subject"} {
		if v := header(msg.Header, k); v != "" {
			fmt.Fprintf(&w.b, "%s: %s\n", k, v)
		}
	}
	w.b.WriteString("\n")
	w.atts = nil
	if err := w.part(textproto(msg.Header), msg.Body, 0); err != nil {
		return err
	}
	if len(w.atts) > 0 {
		fmt.Fprintf(&w.b, "\nAttachments: %s\n", strings.Join(w.atts, ", "))
	}
	if int64(w.b.Len()) > w.limit {
		return fmt.Errorf("%w: the text is over the %d byte limit", media.ErrTooLarge, w.limit)
	}
	return w.ctx.Err()
}

// partHeader is what part reads of a MIME header.
type partHeader interface{ Get(string) string }

type textproto mail.Header

func (h textproto) Get(k string) string { return mail.Header(h).Get(k) }

// part writes one MIME part: text as is, HTML through the HTML extractor, multiparts part by
// part (alternative: the plain text when there is one), attachments by name only.
func (w *writer) part(h partHeader, body io.Reader, depth int) error {
	if depth > maxDepth {
		w.out.Warnings = append(w.out.Warnings, "MIME parts nested too deeply: the rest skipped")
		return nil
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ct = "text/plain"
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if d, err := dec.DecodeHeader(name); err == nil {
		name = d
	}
	if disp == "attachment" || (name != "" && !strings.HasPrefix(ct, "text/")) {
		w.atts = append(w.atts, cmpOr(name, ct))
		return nil
	}
	body = decodeBody(h.Get("Content-Transfer-Encoding"), body)
	switch {
	case strings.HasPrefix(ct, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		var parts []*multipartPart
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				w.out.Warnings = append(w.out.Warnings, "malformed MIME part skipped: "+err.Error())
				break
			}
			b, err := io.ReadAll(io.LimitReader(p, 4*w.limit))
			if err != nil {
				return err
			}
			parts = append(parts, &multipartPart{h: p.Header, body: b})
		}
		if ct == "multipart/alternative" {
			parts = preferPlain(parts)
		}
		for _, p := range parts {
			if err := w.part(p.h, bytes.NewReader(p.body), depth+1); err != nil {
				return err
			}
		}
	case ct == "message/rfc822":
		msg, err := mail.ReadMessage(body)
		if err != nil {
			w.out.Warnings = append(w.out.Warnings, "attached message unreadable: "+err.Error())
			return nil
		}
		return w.message(msg, false)
	case ct == "text/html":
		b, err := io.ReadAll(io.LimitReader(body, 4*w.limit))
		if err != nil {
			return err
		}
		if w.x.HTML == nil {
			w.out.Warnings = append(w.out.Warnings, "an HTML part was skipped")
			return nil
		}
		src := media.Source{Name: "part.html", ContentType: h.Get("Content-Type"), Size: int64(len(b)), MaxText: w.limit,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
		ex, err := w.x.HTML.Extract(w.ctx, src)
		if err != nil {
			w.out.Warnings = append(w.out.Warnings, "an HTML part was unreadable: "+err.Error())
			return nil
		}
		w.b.WriteString(ex.Text + "\n")
	case strings.HasPrefix(ct, "text/"):
		b, err := io.ReadAll(io.LimitReader(body, 4*w.limit))
		if err != nil {
			return err
		}
		w.b.WriteString(strings.TrimRight(string(b), "\n") + "\n")
	default:
		w.atts = append(w.atts, cmpOr(name, ct))
	}
	return nil
}

type multipartPart struct {
	h    partHeader
	body []byte
}

// preferPlain keeps the text/plain alternative when there is one, else the last (richest).
func preferPlain(parts []*multipartPart) []*multipartPart {
	for _, p := range parts {
		if ct, _, _ := mime.ParseMediaType(p.h.Get("Content-Type")); ct == "text/plain" {
			return []*multipartPart{p}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return parts[len(parts)-1:]
}

func decodeBody(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // it skips the line breaks
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
