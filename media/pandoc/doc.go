// Package pandoc is the media.Extractor for OpenDocument text (ODT) and RTF, which it reads
// with the pandoc program (Debian package pandoc) through media.Run: a timeout, an
// address-space limit, pandoc's own heap cap (+RTS -M) and a temporary directory of its own.
// ODT zips are checked against zip bombs before pandoc sees them. DOCX does not come here:
// pandoc is super-linear on large DOCX, media/ooxml reads it natively.
package pandoc
