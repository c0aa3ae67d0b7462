// Package mimesniff implements media.Sniffer with github.com/gabriel-vasile/mimetype, which
// recognises a file's format from its magic numbers and structure (media.SniffLen bytes are
// enough for its default read limit).
package mimesniff
