package readability

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"path"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"

	"github.com/tldw-go/tldw/media"
)

// maxElements bounds the nodes Readability scores; larger pages fall back to visible text.
const maxElements = 200_000

// Extractor is the web-page media.Extractor. The zero value is ready; it is safe for
// concurrent use.
type Extractor struct{}

var _ media.Extractor = Extractor{}

// Handles reports whether src is HTML: by its sniffed type, or an .html/.htm/.xhtml name
// on a text type.
func (Extractor) Handles(src media.Source) bool {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	if ct == "text/html" || ct == "application/xhtml+xml" {
		return true
	}
	switch strings.ToLower(path.Ext(src.Name)) {
	case ".html", ".htm", ".xhtml":
		return strings.HasPrefix(ct, "text/") || ct == "application/xml"
	}
	return false
}

// Extract returns the page's article text, or all its visible text when Readability finds
// no article. Errors wrap media.ErrUnsupported (not HTML), media.ErrTooLarge (text over
// src.Limit()), or the reader's error.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !x.Handles(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not HTML", media.ErrUnsupported, src.Name, src.ContentType)
	}
	// Markup outweighs its text.
	raw, err := media.ReadSource(ctx, src, 8)
	if err != nil {
		return nil, err
	}
	r, err := charset.NewReader(bytes.NewReader(raw), src.ContentType)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", media.ErrInvalid, src.Name, err)
	}
	doc, err := html.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", media.ErrInvalid, src.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &media.Extracted{Metadata: map[string]string{}}
	title := pageTitle(doc)
	text := ""
	p := readability.NewParser()
	p.MaxElemsToParse = maxElements
	if p.CheckDocument(doc) {
		if art, err := p.ParseDocument(doc, nil); err == nil && art.Node != nil {
			var b strings.Builder
			if err := art.RenderText(&b); err == nil {
				text = b.String()
			}
			title = cmpOr(art.Title(), title)
			for k, v := range map[string]string{"byline": art.Byline(), "site_name": art.SiteName(), "language": art.Language(), "excerpt": art.Excerpt()} {
				if v != "" {
					out.Metadata[k] = v
				}
			}
		}
	}
	if strings.TrimSpace(text) == "" {
		text = visibleText(doc)
		out.Metadata["extraction"] = "visible-text"
	} else {
		out.Metadata["extraction"] = "readability"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out.Text = strings.TrimSpace(collapseBlankLines(media.NormalizeText(text)))
	out.Title = strings.TrimSpace(title)
	if int64(len(out.Text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// pageTitle is the text of the first <title>.
func pageTitle(n *html.Node) string {
	if n.Type == html.ElementNode && n.DataAtom == atom.Title {
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
		}
		return strings.Join(strings.Fields(b.String()), " ")
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if t := pageTitle(c); t != "" {
			return t
		}
	}
	return ""
}

// invisible elements contribute no text.
var invisible = map[atom.Atom]bool{atom.Head: true, atom.Script: true, atom.Style: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true, atom.Select: true}

// blocks end a line of text.
var blocks = map[atom.Atom]bool{atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Tr: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Section: true,
	atom.Article: true, atom.Header: true, atom.Footer: true, atom.Blockquote: true, atom.Pre: true, atom.Table: true,
	atom.Ul: true, atom.Ol: true, atom.Dt: true, atom.Dd: true, atom.Hr: true, atom.Main: true, atom.Nav: true}

// visibleText is every text node outside invisible elements, a line per block element.
func visibleText(doc *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			if t := strings.Join(strings.Fields(n.Data), " "); t != "" {
				if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
					b.WriteByte(' ')
				}
				b.WriteString(t)
			}
			return
		case html.ElementNode:
			if invisible[n.DataAtom] || hidden(n) {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && blocks[n.DataAtom] {
			b.WriteString("\n\n")
		}
	}
	walk(doc)
	return b.String()
}

// hidden reports the hidden attribute or aria-hidden="true".
func hidden(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Key == "hidden" || (a.Key == "aria-hidden" && a.Val == "true") {
			return true
		}
	}
	return false
}

// collapseBlankLines trims each line and leaves at most one blank line between paragraphs.
func collapseBlankLines(s string) string {
	var out []string
	blank := false
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
