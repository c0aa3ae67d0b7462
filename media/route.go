package media

import (
	"context"
	"fmt"
	"mime"
	"path"
	"strings"
)

// Format is a family of inputs that one Extractor reads: the key Extractors routes by.
type Format string

// The formats FormatOf names.
const (
	FormatText   Format = "text"   // plain text, Markdown, reStructuredText, source code, CSV, JSON, XML
	FormatHTML   Format = "html"   // web pages
	FormatOffice Format = "office" // DOCX, PPTX, XLSX
	FormatEPUB   Format = "epub"
	FormatEmail  Format = "email" // .eml messages and .mbox mailboxes
	FormatPDF    Format = "pdf"
	FormatImage  Format = "image" // PNG, JPEG, WebP, TIFF, GIF, BMP: OCR
	FormatODT    Format = "odt"   // OpenDocument text
	FormatRTF    Format = "rtf"
)

// formatArchive marks archive types in byType; it is never routed.
const formatArchive Format = "archive"

// byType maps sniffed content types to formats.
var byType = map[string]Format{
	"text/plain": FormatText, "text/markdown": FormatText, "text/x-markdown": FormatText, "text/x-rst": FormatText,
	"text/csv": FormatText, "text/tab-separated-values": FormatText, "text/xml": FormatText,
	"application/xml": FormatText, "application/json": FormatText, "application/x-ndjson": FormatText,
	"application/yaml": FormatText, "application/javascript": FormatText, "application/x-subrip": FormatText,

	"text/html": FormatHTML, "application/xhtml+xml": FormatHTML,
	"text/rtf": FormatRTF, "application/rtf": FormatRTF,
	"application/vnd.oasis.opendocument.text":          FormatODT,
	"application/vnd.oasis.opendocument.text-template": FormatODT,
	"application/epub+zip":                             FormatEPUB,
	"message/rfc822":                                   FormatEmail, "application/mbox": FormatEmail,
	"application/pdf": FormatPDF,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   FormatOffice,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": FormatOffice,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         FormatOffice,

	"image/png": FormatImage, "image/jpeg": FormatImage, "image/webp": FormatImage, "image/tiff": FormatImage,
	"image/gif": FormatImage, "image/bmp": FormatImage,

	"application/zip": formatArchive, "application/x-tar": formatArchive, "application/gzip": formatArchive,
	"application/x-gzip": formatArchive, "application/x-bzip2": formatArchive, "application/x-xz": formatArchive,
	"application/zstd": formatArchive, "application/lzip": formatArchive, "application/x-7z-compressed": formatArchive,
	"application/vnd.rar": formatArchive, "application/x-rar-compressed": formatArchive,
	"application/x-cpio": formatArchive, "application/x-archive": formatArchive, "application/x-xar": formatArchive,
	"application/vnd.ms-cab-compressed": formatArchive, "application/java-archive": formatArchive,
	"application/vnd.android.package-archive": formatArchive, "application/zlib": formatArchive,
}

// byExt maps file name extensions to formats. It decides among the text formats when the
// bytes sniff as text, picks the format of a zip container (.docx, .epub, .odt on
// application/zip), and is the only guide when the sniffer knows nothing.
var byExt = map[string]Format{
	".html": FormatHTML, ".htm": FormatHTML, ".xhtml": FormatHTML,
	".eml": FormatEmail, ".mbox": FormatEmail, ".mbx": FormatEmail,
	".docx": FormatOffice, ".pptx": FormatOffice, ".xlsx": FormatOffice,
	".epub": FormatEPUB, ".odt": FormatODT, ".rtf": FormatRTF, ".pdf": FormatPDF,
	".png": FormatImage, ".jpg": FormatImage, ".jpeg": FormatImage, ".webp": FormatImage,
	".tif": FormatImage, ".tiff": FormatImage, ".gif": FormatImage, ".bmp": FormatImage,
}

func init() {
	for _, e := range strings.Fields(`.txt .text .md .markdown .rst .adoc .org .tex .log .csv .tsv .json
		.jsonl .ndjson .xml .yaml .yml .toml .ini .cfg .conf .srt .vtt .go .py .js .mjs .ts .tsx .jsx .java
		.kt .c .h .cc .cpp .hpp .cs .rs .rb .php .pl .sh .bash .zsh .sql .css .scss .swift .scala .lua .r
		.m .hs .ex .exs .erl .clj .dart .vue .svelte .proto .graphql .dockerfile .makefile .mk`) {
		byExt[e] = FormatText
	}
}

// textual are the formats an extension may choose when the bytes sniff as text.
var textual = map[Format]bool{FormatText: true, FormatHTML: true, FormatEmail: true}

// FormatOf says which Format src is, from its sniffed ContentType, with its file name's
// extension winning among the text formats (Markdown, source code and mailboxes sniff as
// text/plain) and naming the format of a zip container. It returns an ErrUnsupported-wrapped
// error naming the type for anything else, archives included: they are never unpacked.
func FormatOf(src Source) (Format, error) {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	ext := strings.ToLower(path.Ext(src.Name))
	f, ok := byType[ct]
	if !ok && (strings.HasPrefix(ct, "text/") || strings.HasSuffix(ct, "+xml") || strings.HasSuffix(ct, "+json")) {
		f, ok = FormatText, true
	}
	switch {
	case ct == "" || ct == "application/octet-stream":
		// Unknown bytes: the name is all there is; the extractor tells a corrupt file.
		f, ok = byExt[ext]
	case f == FormatText:
		if e := byExt[ext]; textual[e] {
			f = e
		}
	case ct == "application/zip" && (byExt[ext] == FormatOffice || byExt[ext] == FormatEPUB || byExt[ext] == FormatODT):
		f = byExt[ext]
	}
	switch {
	case f == formatArchive:
		return "", fmt.Errorf("%w: %s is an archive (%s): archives are not unpacked", ErrUnsupported, src.Name, ct)
	case !ok:
		if ct == "" {
			ct = "unknown"
		}
		return "", fmt.Errorf("%w: %s has type %s, which this server does not extract text from", ErrUnsupported, src.Name, ct)
	}
	return f, nil
}

// Extractors is the Extractor that hands each Source to the Extractor of its Format
// (FormatOf). An embedder adds or replaces entries like in any map; a format with no entry
// is ErrUnsupported. Safe for concurrent use when not modified and when its entries are.
type Extractors map[Format]Extractor

var _ Extractor = Extractors{}

// Extract implements Extractor: the entry's result, or an ErrUnsupported-wrapped error
// naming the type when FormatOf refuses src or the format has no entry.
func (e Extractors) Extract(ctx context.Context, src Source) (*Extracted, error) {
	f, err := FormatOf(src)
	if err != nil {
		return nil, err
	}
	x := e[f]
	if x == nil {
		return nil, fmt.Errorf("%w: %s (%s): this server has no %s extractor", ErrUnsupported, src.Name, src.ContentType, f)
	}
	return x.Extract(ctx, src)
}

// Unavailable is the Extractors entry for a format whose tool is not installed: every
// Extract is ErrUnsupported naming the tool and the package to install.
func Unavailable(t Tool) Extractor { return unavailable(t) }

type unavailable Tool

func (u unavailable) Extract(ctx context.Context, src Source) (*Extracted, error) {
	return nil, fmt.Errorf("%w: %s needs %s, which is not installed on this server (install the %s package)",
		ErrUnsupported, src.Name, u.Name, u.Package)
}
