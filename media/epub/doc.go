// Package epub is the media.Extractor for EPUB e-books: the chapters of the spine in reading
// order, each read by an HTML extractor it is given (media/readability in the server), one
// section per chapter so ebook_chapters chunking keeps chapter boundaries.
package epub
