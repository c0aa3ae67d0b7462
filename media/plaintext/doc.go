// Package plaintext is the media.Extractor for text formats that need no tool: plain text,
// Markdown, reStructuredText, source code, CSV/TSV, JSON, XML, YAML and the like. It detects
// the character set (a UTF-8, UTF-16 or UTF-32 byte-order mark, BOM-less UTF-16 by its zero
// bytes, valid UTF-8, the sniffed charset, else Windows-1252 as browsers do) and returns
// UTF-8 in Unicode NFC with "\n" line ends.
package plaintext
