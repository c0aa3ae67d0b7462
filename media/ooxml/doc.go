// Package ooxml is the media.Extractor for Office Open XML documents: Word (.docx) text by
// paragraph, PowerPoint (.pptx) text by slide (a section each). It streams the XML parts
// with encoding/xml, so time and memory grow linearly with the document, and it checks the
// zip's declared sizes and compression ratio before inflating anything (and counts the real
// bytes while it does, since declared sizes can lie).
package ooxml
