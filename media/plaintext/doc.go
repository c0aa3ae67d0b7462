// Package plaintext is the media.Extractor for text formats that need no tool: plain text,
// Markdown, reStructuredText, source code, CSV/TSV, JSON, XML, YAML and the like. It detects
// the character set (byte-order mark, valid UTF-8, the sniffed charset, else Windows-1252 as
// browsers do) and returns UTF-8 in Unicode NFC with "\n" line ends.
package plaintext
