package epub

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/tldw-go/tldw/media"
)

const epubType = "application/epub+zip"

// Extractor reads EPUB files. HTML extracts each chapter's XHTML; it must be set. Safe for
// concurrent use when HTML is.
type Extractor struct {
	HTML media.Extractor
}

var _ media.Extractor = Extractor{}

// Handles reports whether src is an EPUB: by sniffed type, or an .epub name on a zip.
func (Extractor) Handles(src media.Source) bool {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	return ct == epubType || ((ct == "application/zip" || ct == "application/octet-stream") && strings.EqualFold(path.Ext(src.Name), ".epub"))
}

// Extract returns the book's text, chapter by chapter. Errors wrap media.ErrUnsupported
// (not an EPUB), media.ErrInvalid (no readable package document, a zip bomb, DRM-encrypted
// content), media.ErrTooLarge (text over src.Limit()), or the reader's error.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !x.Handles(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not an EPUB", media.ErrUnsupported, src.Name, src.ContentType)
	}
	raw, err := media.ReadSource(ctx, src, 4)
	if err != nil {
		return nil, err
	}
	z, err := media.OpenZip(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name, err)
	}
	if _, err := z.Open("META-INF/encryption.xml"); err == nil {
		return nil, fmt.Errorf("%w: %s is encrypted (DRM); its text cannot be read", media.ErrInvalid, src.Name)
	}
	opfPath, err := rootfile(z)
	if err != nil {
		return nil, err
	}
	pkg, err := readPackage(z, opfPath)
	if err != nil {
		return nil, err
	}
	out := &media.Extracted{Title: pkg.Metadata.Title, Metadata: map[string]string{}}
	if pkg.Metadata.Creator != "" {
		out.Metadata["author"] = pkg.Metadata.Creator
	}
	if pkg.Metadata.Language != "" {
		out.Metadata["language"] = pkg.Metadata.Language
	}
	items := map[string]item{}
	for _, it := range pkg.Manifest {
		items[it.ID] = it
	}
	var text strings.Builder
	dir := path.Dir(opfPath)
	for i, ref := range pkg.Spine {
		it, ok := items[ref.IDRef]
		if !ok || !strings.Contains(it.MediaType, "html") {
			continue
		}
		href, err := url.PathUnescape(it.Href)
		if err != nil {
			href = it.Href
		}
		ch, err := x.chapter(ctx, z, path.Join(dir, href), src.Limit()-int64(text.Len()))
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(ch.Text) == "" {
			continue
		}
		if text.Len() > 0 {
			text.WriteString("\n\n")
		}
		title := ch.Title
		if title == "" {
			title = fmt.Sprintf("Chapter %d", i+1)
		}
		out.Sections = append(out.Sections, media.Section{Title: title, Offset: text.Len()})
		text.WriteString(ch.Text)
		if int64(text.Len()) > src.Limit() {
			return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
		}
	}
	if len(out.Sections) == 0 {
		return nil, fmt.Errorf("%w: %s has no readable chapters", media.ErrInvalid, src.Name)
	}
	out.Text = text.String()
	return out, nil
}

// chapter extracts one XHTML file of the spine.
func (x Extractor) chapter(ctx context.Context, z *media.Zip, name string, left int64) (*media.Extracted, error) {
	rc, err := z.Open(name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	src := media.Source{Name: path.Base(name), ContentType: "application/xhtml+xml", Size: int64(len(b)), MaxText: max(left, 1),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
	ch, err := x.HTML.Extract(ctx, src)
	if err != nil && !errors.Is(err, media.ErrTooLarge) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("chapter %s: %w", name, err)
	}
	return ch, err
}

// rootfile finds the package document through META-INF/container.xml.
func rootfile(z *media.Zip) (string, error) {
	rc, err := z.Open("META-INF/container.xml")
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var c struct {
		Rootfiles []struct {
			FullPath  string `xml:"full-path,attr"`
			MediaType string `xml:"media-type,attr"`
		} `xml:"rootfiles>rootfile"`
	}
	if err := xml.NewDecoder(rc).Decode(&c); err != nil {
		return "", fmt.Errorf("%w: META-INF/container.xml: %v", media.ErrInvalid, err)
	}
	for _, r := range c.Rootfiles {
		if r.FullPath != "" {
			return r.FullPath, nil
		}
	}
	return "", fmt.Errorf("%w: META-INF/container.xml names no package document", media.ErrInvalid)
}

type item struct {
	ID        string `xml:"id,attr"`
	Href      string `xml:"href,attr"`
	MediaType string `xml:"media-type,attr"`
}

type opf struct {
	Metadata struct {
		Title    string `xml:"title"`
		Creator  string `xml:"creator"`
		Language string `xml:"language"`
	} `xml:"metadata"`
	Manifest []item `xml:"manifest>item"`
	Spine    []struct {
		IDRef string `xml:"idref,attr"`
	} `xml:"spine>itemref"`
}

func readPackage(z *media.Zip, name string) (*opf, error) {
	rc, err := z.Open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var p opf
	if err := xml.NewDecoder(rc).Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", media.ErrInvalid, name, err)
	}
	return &p, nil
}
