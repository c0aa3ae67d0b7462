package ooxml

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/tldw-go/tldw/media"
)

// Limits on the zip container, checked before and while inflating.
const (
	maxParts    = 10_000  // entries in the zip
	maxInflated = 1 << 30 // bytes of all XML parts read, inflated
	maxRatio    = 200     // inflated/compressed size of one part
)

const (
	docxType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	pptxType = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
)

// Extractor is the OOXML media.Extractor. The zero value is ready; it is safe for
// concurrent use.
type Extractor struct{}

var _ media.Extractor = Extractor{}

// kind returns "docx", "pptx" or "" for src, by sniffed type, then by extension on a zip.
func kind(src media.Source) string {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	switch ct {
	case docxType:
		return "docx"
	case pptxType:
		return "pptx"
	case "application/zip", "application/octet-stream", "":
		switch strings.ToLower(path.Ext(src.Name)) {
		case ".docx":
			return "docx"
		case ".pptx":
			return "pptx"
		}
	}
	return ""
}

// Handles reports whether src is a Word or PowerPoint document.
func (Extractor) Handles(src media.Source) bool { return kind(src) != "" }

// Extract returns the document's text. Errors wrap media.ErrUnsupported (another type),
// media.ErrInvalid (not a readable OOXML zip, or a zip bomb), media.ErrTooLarge (text over
// src.Limit()), or the reader's error.
func (Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	k := kind(src)
	if k == "" {
		return nil, fmt.Errorf("%w: %s (%s) is not a Word or PowerPoint document", media.ErrUnsupported, src.Name, src.ContentType)
	}
	rc, err := src.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// archive/zip needs random access; documents are read into memory up to the text cap's
	// worth of compressed bytes (text compresses, so this bounds no real document).
	raw, err := io.ReadAll(io.LimitReader(media.ContextReader(ctx, rc), 4*src.Limit()+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > 4*src.Limit() {
		return nil, fmt.Errorf("%w: %s is larger than this server reads for its text", media.ErrTooLarge, src.Name)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a readable %s (zip): %v", media.ErrInvalid, src.Name, k, err)
	}
	if len(zr.File) > maxParts {
		return nil, fmt.Errorf("%w: %s has %d zip entries", media.ErrInvalid, src.Name, len(zr.File))
	}
	d := &doc{ctx: ctx, zr: zr, limit: src.Limit(), budget: maxInflated}
	switch k {
	case "docx":
		err = d.docx()
	case "pptx":
		err = d.pptx()
	}
	if err != nil {
		return nil, err
	}
	text := strings.TrimRight(media.NormalizeText(d.text.String()), "\n")
	return &media.Extracted{Text: text, Title: d.title, Sections: d.sections, Metadata: map[string]string{"format": k}}, nil
}

// doc accumulates the text of one document.
type doc struct {
	ctx      context.Context
	zr       *zip.Reader
	limit    int64
	budget   int64 // inflated bytes still allowed
	text     strings.Builder
	title    string
	sections []media.Section
}

// open returns the named part, after checking its declared size and ratio; the reader
// enforces the budget on the real bytes.
func (d *doc) open(name string) (io.ReadCloser, error) {
	for _, f := range d.zr.File {
		if f.Name != name {
			continue
		}
		if f.UncompressedSize64 > uint64(d.budget) ||
			(f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > maxRatio && f.UncompressedSize64 > 1<<20) {
			return nil, fmt.Errorf("%w: part %s inflates to %d bytes from %d: refusing a zip bomb", media.ErrInvalid, name, f.UncompressedSize64, f.CompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: part %s: %v", media.ErrInvalid, name, err)
		}
		return &budgetReader{rc: rc, d: d, name: name}, nil
	}
	return nil, fmt.Errorf("%w: part %s missing", media.ErrInvalid, name)
}

// budgetReader fails once the document's inflated-bytes budget is spent.
type budgetReader struct {
	rc   io.ReadCloser
	d    *doc
	name string
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if err := b.d.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.rc.Read(p)
	b.d.budget -= int64(n)
	if b.d.budget < 0 {
		return n, fmt.Errorf("%w: part %s inflates past the limit: refusing a zip bomb", media.ErrInvalid, b.name)
	}
	return n, err
}

func (b *budgetReader) Close() error { return b.rc.Close() }

// write appends s, failing past the text cap.
func (d *doc) write(s string) error {
	d.text.WriteString(s)
	if int64(d.text.Len()) > d.limit {
		return fmt.Errorf("%w: the text is over the %d byte limit", media.ErrTooLarge, d.limit)
	}
	return nil
}

// docx reads word/document.xml: w:t text, w:tab, w:br and w:cr inside paragraphs, a blank
// line after each w:p; the first Title- or Heading1-styled paragraph is the title.
func (d *doc) docx() error {
	rc, err := d.open("word/document.xml")
	if err != nil {
		return err
	}
	defer rc.Close()
	var para strings.Builder
	style, inText := "", false
	dec := xml.NewDecoder(rc)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return xmlErr("word/document.xml", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				para.WriteByte('\t')
			case "br", "cr":
				para.WriteByte('\n')
			case "pStyle":
				style = attr(t, "val")
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				p := strings.TrimSpace(para.String())
				if p != "" {
					if d.title == "" && (style == "Title" || style == "Heading1") {
						d.title = p
					}
					if err := d.write(p + "\n\n"); err != nil {
						return err
					}
				}
				para.Reset()
				style = ""
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		}
	}
}

// pptx reads the slides in their number order: a:t text, a line per a:p, a section per slide.
func (d *doc) pptx() error {
	var slides []int
	for _, f := range d.zr.File {
		if n, ok := strings.CutPrefix(f.Name, "ppt/slides/slide"); ok {
			if i, err := strconv.Atoi(strings.TrimSuffix(n, ".xml")); err == nil && strings.HasSuffix(n, ".xml") {
				slides = append(slides, i)
			}
		}
	}
	if len(slides) == 0 {
		return fmt.Errorf("%w: no slides", media.ErrInvalid)
	}
	sort.Ints(slides)
	for _, i := range slides {
		name := fmt.Sprintf("ppt/slides/slide%d.xml", i)
		d.sections = append(d.sections, media.Section{Title: fmt.Sprintf("Slide %d", i), Offset: d.text.Len()})
		if err := d.slide(name); err != nil {
			return err
		}
	}
	return nil
}

func (d *doc) slide(name string) error {
	rc, err := d.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	var line strings.Builder
	inText := false
	dec := xml.NewDecoder(rc)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return d.write("\n")
		}
		if err != nil {
			return xmlErr(name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			inText = t.Name.Local == "t"
		case xml.EndElement:
			inText = false
			if t.Name.Local == "p" {
				if l := strings.TrimSpace(line.String()); l != "" {
					if err := d.write(l + "\n"); err != nil {
						return err
					}
				}
				line.Reset()
			}
		case xml.CharData:
			if inText {
				line.Write(t)
			}
		}
	}
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// xmlErr keeps limit errors as they are and calls anything else corrupt.
func xmlErr(part string, err error) error {
	if errors.Is(err, media.ErrInvalid) || errors.Is(err, media.ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", media.ErrInvalid, part, err)
}
