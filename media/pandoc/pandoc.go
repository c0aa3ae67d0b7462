package pandoc

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// The limits of one pandoc run when the Extractor leaves them zero.
const (
	DefaultTimeout = 2 * time.Minute
	DefaultHeapMB  = 512     // pandoc's heap (+RTS -M)
	DefaultMemory  = 2 << 30 // address space: the Haskell runtime reserves more than it uses
)

// Extractor reads ODT and RTF with pandoc. The zero value is ready (pandoc from PATH, the
// default limits); it is safe for concurrent use.
type Extractor struct {
	Path        string        // the pandoc program; "" looks up "pandoc" on PATH
	Timeout     time.Duration // per document; 0 is DefaultTimeout
	HeapMB      int           // pandoc's heap cap in MiB; 0 is DefaultHeapMB
	MemoryBytes int64         // the process's address-space limit; 0 is DefaultMemory
	TempRoot    string        // where runs make their temporary directories; "" is os.TempDir()
}

var _ media.Extractor = Extractor{}

// kind returns pandoc's reader for src ("odt" or "rtf") by sniffed type, or by extension
// when the type says only zip or nothing; "" when src is neither.
func kind(src media.Source) string {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	ext := strings.ToLower(path.Ext(src.Name))
	switch {
	case ct == "application/vnd.oasis.opendocument.text" || ct == "application/vnd.oasis.opendocument.text-template":
		return "odt"
	case ct == "text/rtf" || ct == "application/rtf":
		return "rtf"
	case ext == ".odt" && (ct == "application/zip" || ct == "application/octet-stream" || ct == ""):
		return "odt"
	case ext == ".rtf" && (ct == "application/octet-stream" || ct == ""):
		return "rtf"
	}
	return ""
}

// Handles reports whether src is an ODT or RTF document.
func (Extractor) Handles(src media.Source) bool { return kind(src) != "" }

// Extract returns the document's text. Errors wrap media.ErrUnsupported (another type, or
// pandoc not installed: the error names the package), media.ErrInvalid (not a readable ODT
// or RTF, a zip bomb), media.ErrTooLarge (text over src.Limit(), or over pandoc's heap cap),
// media.ErrTimeout, ctx's error, or another error a retry may cure.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	k := kind(src)
	if k == "" {
		return nil, fmt.Errorf("%w: %s (%s) is not an ODT or RTF document", media.ErrUnsupported, src.Name, src.ContentType)
	}
	prog, err := exec.LookPath(cmp.Or(x.Path, "pandoc"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%s) needs pandoc, which is not installed on this server (install the pandoc package)", media.ErrUnsupported, src.Name, k)
	}
	// Markup, styles and compression make the file larger than its text.
	raw, err := media.ReadSource(ctx, src, 4)
	if err != nil {
		return nil, err
	}
	if err := check(ctx, k, raw); err != nil {
		return nil, fmt.Errorf("%s (%s): %w", src.Name, k, err)
	}
	if k == "rtf" {
		raw = delimitUnicode(raw)
	}
	heap := cmp.Or(x.HeapMB, DefaultHeapMB)
	out := &media.CappedBuffer{Max: src.Limit() + 1}
	err = media.Run(ctx, media.Command{
		Path:        prog,
		Args:        []string{"--from=" + k, "--to=plain", "--wrap=none", "+RTS", "-M" + strconv.Itoa(heap) + "m", "-RTS"},
		TempRoot:    x.TempRoot,
		Stdin:       bytes.NewReader(raw),
		Stdout:      out,
		Timeout:     cmp.Or(x.Timeout, DefaultTimeout),
		MemoryBytes: cmp.Or(x.MemoryBytes, DefaultMemory),
	})
	var exit *exec.ExitError
	switch {
	case out.Over:
		return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
	case err != nil && strings.Contains(err.Error(), "Heap exhausted"):
		return nil, fmt.Errorf("%w: pandoc needs more than its %d MiB heap for %s", media.ErrTooLarge, heap, src.Name)
	case errors.As(err, &exit):
		return nil, fmt.Errorf("%w: pandoc could not read %s as %s: %v", media.ErrInvalid, src.Name, strings.ToUpper(k), err)
	case err != nil:
		return nil, err
	}
	text := strings.TrimSpace(media.NormalizeText(out.Buf.String()))
	if int64(len(text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
	}
	return &media.Extracted{Text: text, Metadata: map[string]string{"format": k, "tool": "pandoc"}}, nil
}

// check refuses what pandoc should not see: an ODT that is not a zip with a content.xml or
// that is a zip bomb (every entry is inflated once under media.OpenZip's limits), an RTF
// that does not start like one.
func check(ctx context.Context, k string, raw []byte) error {
	if k == "rtf" {
		if !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte(`{\rtf`)) {
			return fmt.Errorf(`%w: no {\rtf header`, media.ErrInvalid)
		}
		return nil
	}
	z, err := media.OpenZip(ctx, raw)
	if err != nil {
		return err
	}
	if !slices.Contains(z.Names(), "content.xml") {
		return fmt.Errorf("%w: no content.xml: not an OpenDocument file", media.ErrInvalid)
	}
	for _, name := range z.Names() {
		rc, err := z.Open(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			if errors.Is(err, media.ErrInvalid) || ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: %s: %v", media.ErrInvalid, name, err)
		}
	}
	return nil
}

// delimitUnicode puts a space between each \uN control word and a literal fallback
// character right after it ("caf\u233?s" becomes "caf\u233 ?s"), which means the same in
// RTF: pandoc 2.17's reader (Debian 12) drops the character after such a fallback, and
// pandoc's own writer makes them.
func delimitUnicode(raw []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character, or a control word that is not \uN
			continue
		}
		j := i + 2
		if j < len(raw) && raw[j] == '-' {
			j++
		}
		k := j
		for k < len(raw) && raw[k] >= '0' && raw[k] <= '9' {
			k++
		}
		if k == j || k == len(raw) {
			continue
		}
		if c := raw[k]; c != ' ' && c != '\\' && c != '{' && c != '}' && c != '\r' && c != '\n' {
			out = append(append(out, raw[last:k]...), ' ')
			last = k
		}
		i = k - 1
	}
	if out == nil {
		return raw
	}
	return append(out, raw[last:]...)
}
