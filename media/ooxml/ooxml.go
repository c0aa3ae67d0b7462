package ooxml

import (
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
	// archive/zip needs random access: the document is read into memory.
	raw, err := media.ReadSource(ctx, src, 4)
	if err != nil {
		return nil, err
	}
	zr, err := media.OpenZip(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", src.Name, k, err)
	}
	d := &doc{zip: zr, limit: src.Limit()}
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
	zip      *media.Zip
	limit    int64
	text     strings.Builder
	title    string
	sections []media.Section
}

// write appends s, failing past the text cap.
func (d *doc) write(s string) error {
	d.text.WriteString(s)
	if int64(d.text.Len()) > d.limit {
		return fmt.Errorf("%w: the text is over the %d byte limit", media.ErrTooLarge, d.limit)
	}
	return nil
}

// docx reads word/document.xml: w:t text, w:tab, w:br and w:cr inside paragraphs, a blank
// line after each w:p; the first Title- or Heading1-styled paragraph is the title. The part
// is read whole (the zip's size checks bound it) and scanned by scanXML: on a document of
// 5 MB of XML encoding/xml made tens of MB of garbage and most of the extraction time.
func (d *doc) docx() error {
	rc, err := d.zip.Open("word/document.xml")
	if err != nil {
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return xmlErr("word/document.xml", err)
	}
	d.text.Grow(len(data) / 4)
	var para []byte
	style, inText := "", false
	err = scanXML(data, func(t *token) error {
		var err error
		switch t.kind {
		case startTag:
			switch string(t.name) {
			case "t":
				inText = true
			case "tab":
				para = append(para, '\t')
			case "br", "cr":
				para = append(para, '\n')
			case "pStyle":
				style = attrValue(t.attrs, "val")
			}
		case endTag:
			switch string(t.name) {
			case "t":
				inText = false
			case "p":
				if p := bytes.TrimSpace(para); len(p) > 0 {
					if d.title == "" && (style == "Title" || style == "Heading1") {
						d.title = string(p)
					}
					d.text.Write(p)
					err = d.write("\n\n")
				}
				para, style = para[:0], ""
			}
		case charData:
			if inText {
				para, err = appendUnescaped(para, t.text)
			}
		case cdata:
			if inText {
				para = append(para, t.text...)
			}
		}
		return err
	})
	if err != nil {
		return xmlErr("word/document.xml", err)
	}
	return nil
}

// pptx reads the slides in their number order: a:t text, a line per a:p, a section per slide.
func (d *doc) pptx() error {
	var slides []int
	for _, name := range d.zip.Names() {
		if n, ok := strings.CutPrefix(name, "ppt/slides/slide"); ok {
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
	rc, err := d.zip.Open(name)
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

// xmlErr keeps limit errors as they are and calls anything else corrupt.
func xmlErr(part string, err error) error {
	if errors.Is(err, media.ErrInvalid) || errors.Is(err, media.ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", media.ErrInvalid, part, err)
}
